/**
 * Plugin wiring only: the DL Bench sidebar, its palette commands and layout restore.
 * The panel lives in `sidebar.ts`, the REST client in `api.ts`.
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { refreshIcon } from '@jupyterlab/ui-components';

import { dlbenchIcon } from './icon';
import { DLBenchSidebar, SIDEBAR_ID } from './sidebar';

/** Command ids, shared with the UI tests. */
export namespace CommandIDs {
  export const openSidebar = 'dlbench:open-sidebar';
  export const refreshRuns = 'dlbench:refresh-runs';
}

const PALETTE_CATEGORY = 'DL Bench';

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-dlbench:sidebar',
  description: 'A left-sidebar panel listing the runs tracked by jupyter-dlbench.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const sidebar = new DLBenchSidebar();
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, SIDEBAR_ID);

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open DL Bench',
      caption: 'Show the DL Bench sidebar',
      icon: dlbenchIcon,
      execute: () => app.shell.activateById(SIDEBAR_ID)
    });
    app.commands.addCommand(CommandIDs.refreshRuns, {
      label: 'Refresh DL Bench Runs',
      icon: refreshIcon,
      execute: () => sidebar.refresh()
    });
    palette?.addItem({ command: CommandIDs.openSidebar, category: PALETTE_CATEGORY });
    palette?.addItem({ command: CommandIDs.refreshRuns, category: PALETTE_CATEGORY });
  }
};

export default [sidebarPlugin];
