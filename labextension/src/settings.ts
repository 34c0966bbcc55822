/**
 * The extension's user settings (`labextension/schema/plugin.json`), with the schema's
 * defaults for when the setting registry is not available.
 */

import { ISettingRegistry } from '@jupyterlab/settingregistry';

export interface IDLBenchSettings {
  /** Executor preselected in the Run on GPU dialog: local or ray. */
  defaultExecutor: string;
  /** Ray cluster address for the ray executor; empty means the server's default. */
  rayAddress: string;
  /** GPUs per run preselected in the dialog. */
  gpusPerRun: number;
  /** Seconds between refreshes when there is no live event stream. */
  refreshInterval: number;
  /** Listen to the server's event stream; off means polling only. */
  live: boolean;
}

export const DEFAULT_SETTINGS: IDLBenchSettings = {
  defaultExecutor: 'local',
  rayAddress: '',
  gpusPerRun: 1,
  refreshInterval: 5,
  live: true
};

/** Copy the composite settings into `target`, keeping defaults for anything invalid. */
export function readSettings(source: ISettingRegistry.ISettings, target: IDLBenchSettings): void {
  const get = <T>(key: keyof IDLBenchSettings, check: (v: unknown) => boolean): T => {
    const value = source.get(key).composite;
    return (check(value) ? value : DEFAULT_SETTINGS[key]) as T;
  };
  target.defaultExecutor = get('defaultExecutor', v => v === 'local' || v === 'ray');
  target.rayAddress = get('rayAddress', v => typeof v === 'string');
  target.gpusPerRun = get('gpusPerRun', v => typeof v === 'number' && v > 0 && v <= 8);
  target.refreshInterval = get('refreshInterval', v => typeof v === 'number' && v >= 1);
  target.live = get('live', v => typeof v === 'boolean');
}
