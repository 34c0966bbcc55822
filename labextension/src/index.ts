/**
 * Plugin wiring only: the DL Bench sidebar, the Run on GPU toolbar button, run pages,
 * palette commands, settings and layout restore. The views live in `sidebar/`,
 * `dialogs/` and `runpage/`, the REST client in `api.ts`.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { refreshIcon } from '@jupyterlab/ui-components';

import { describeError } from './api';
import { openRunDialog } from './dialogs/runDialog';
import { dlbenchIcon } from './icon';
import { LiveFeed } from './live';
import { ISubmitResult } from './models';
import { asNotebook, RunOnGpuExtension, serverPath } from './notebookButton';
import { Pages } from './pages';
import { DEFAULT_SETTINGS, IDLBenchSettings, readSettings } from './settings';
import { DLBenchSidebar, SIDEBAR_ID } from './sidebar/panel';

/** Command ids, shared with the UI tests. */
export namespace CommandIDs {
  export const openSidebar = 'dlbench:open-sidebar';
  export const refresh = 'dlbench:refresh';
  export const runOnGpu = 'dlbench:run-on-gpu';
  export const openRun = 'dlbench:open-run';
}

const PLUGIN_ID = 'jupyter-dlbench:plugin';
const PALETTE_CATEGORY = 'DL Bench';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'DL Bench: runs, jobs and datasets sidebar, Run on GPU, run pages.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    registry: ISettingRegistry | null
  ): void => {
    const settings: IDLBenchSettings = { ...DEFAULT_SETTINGS };
    const feed = new LiveFeed(settings.refreshInterval * 1000, settings.live);
    const submitted = (result: ISubmitResult | null): void => {
      if (result) {
        app.shell.activateById(SIDEBAR_ID);
        void sidebar.refresh();
      }
    };
    const pages = new Pages(app, feed, settings, submitted);
    const openRun = (runId: string): void => pages.openRun(runId);
    const runNotebook = (panel = asNotebook(app.shell.currentWidget)): void => {
      if (!panel) {
        return;
      }
      openRunDialog({ path: serverPath(panel.context), context: panel.context, settings })
        .then(submitted)
        .catch(error => Notification.error(`Run on GPU: ${describeError(error)}`));
    };

    const sidebar = new DLBenchSidebar(feed, openRun, jobId => pages.openLog(jobId));
    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, SIDEBAR_ID);
    app.docRegistry.addWidgetExtension('Notebook', new RunOnGpuExtension(runNotebook));
    feed.start();

    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Open DL Bench',
      caption: 'Show the DL Bench sidebar: runs, jobs and datasets',
      icon: dlbenchIcon,
      execute: () => app.shell.activateById(SIDEBAR_ID)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh DL Bench',
      icon: refreshIcon,
      execute: () => sidebar.refresh()
    });
    app.commands.addCommand(CommandIDs.runOnGpu, {
      label: 'Run Current Notebook on GPU…',
      caption: 'Submit the current notebook as a tracked job',
      icon: dlbenchIcon,
      isEnabled: () => asNotebook(app.shell.currentWidget) !== null,
      execute: () => runNotebook()
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: args => (args.runId ? `Open Run ${String(args.runId)}` : 'Open Run'),
      execute: args => {
        if (typeof args.runId === 'string' && args.runId) {
          openRun(args.runId);
        }
      }
    });
    for (const command of [CommandIDs.openSidebar, CommandIDs.runOnGpu, CommandIDs.refresh]) {
      palette?.addItem({ command, category: PALETTE_CATEGORY });
    }
    // after the commands exist: the restorer reopens run pages through openRun
    void restorer?.restore(pages.runPages, {
      command: CommandIDs.openRun,
      args: page => ({ runId: page.content.runId }),
      name: page => page.content.runId
    });

    if (registry) {
      void registry
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = (): void => {
            readSettings(loaded, settings);
            feed.configure(settings.refreshInterval * 1000, settings.live);
          };
          apply();
          loaded.changed.connect(apply);
        })
        .catch(error => console.warn(`DL Bench: settings not loaded, using defaults: ${error}`));
    }
  }
};

export default [plugin];
