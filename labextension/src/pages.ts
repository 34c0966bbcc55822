/**
 * The extension's main-area pages: one run page per run, one log per job, and the copy
 * of an output notebook. Opening one that is already open brings it to the front.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, Notification, WidgetTracker } from '@jupyterlab/apputils';

import { getArtifactText } from './api';
import { describeSubmission } from './dialogs/runDialog';
import { dlbenchIcon } from './icon';
import { JobLog } from './joblog';
import { LiveFeed } from './live';
import { IRunDetail, ISubmitResult } from './models';
import { rerun, rerunWithChanges } from './notebookButton';
import { outputCopyPath, RunPage } from './runpage/runPage';
import { IDLBenchSettings } from './settings';

export class Pages {
  constructor(
    app: JupyterFrontEnd,
    feed: LiveFeed,
    settings: IDLBenchSettings,
    submitted: (result: ISubmitResult | null) => void
  ) {
    this._app = app;
    this._feed = feed;
    this._settings = settings;
    this._submitted = submitted;
  }

  /** Open run pages, so the layout restorer reopens them after a reload. */
  readonly runPages = new WidgetTracker<MainAreaWidget<RunPage>>({ namespace: 'dlbench-run' });

  openRun(runId: string): void {
    const id = `dlbench-run-${runId}`;
    if (!this._has(id)) {
      const content = new RunPage(runId, this._feed, {
        rerun: async detail => {
          const result = await rerun(detail);
          Notification.success(describeSubmission(result), { autoClose: 4000 });
          this._submitted(result);
        },
        rerunWithChanges: async detail =>
          this._submitted(await rerunWithChanges(detail, this._settings)),
        openNotebook: (detail, artifactPath) => this.openNotebookCopy(detail, artifactPath)
      });
      // tracked before it is added, so the layout saved on adding it already names it
      const page = this._page(id, content, `Run ${runId.slice(0, 8)}`) as MainAreaWidget<RunPage>;
      void this.runPages.add(page);
      this._app.shell.add(page, 'main');
    }
    this._app.shell.activateById(id);
  }

  openLog(jobId: string): void {
    const id = `dlbench-log-${jobId}`;
    if (!this._has(id)) {
      this._app.shell.add(this._page(id, new JobLog(jobId), `Log ${jobId}`), 'main', {
        mode: 'split-bottom'
      });
    }
    this._app.shell.activateById(id);
  }

  /**
   * Write a notebook artifact under `dlbench-outputs/<run>/` in the server root and open
   * it: JupyterLab opens documents by path, and the artifact lives in the object store.
   */
  async openNotebookCopy(detail: IRunDetail, artifactPath: string): Promise<void> {
    const target = outputCopyPath(detail.run_id, artifactPath);
    const content = JSON.parse(await getArtifactText(detail.run_id, artifactPath));
    const contents = this._app.serviceManager.contents;
    for (const dir of ['dlbench-outputs', `dlbench-outputs/${detail.run_id}`]) {
      await contents.save(dir, { type: 'directory' });
    }
    await contents.save(target, { type: 'notebook', format: 'json', content });
    await this._app.commands.execute('docmanager:open', { path: target });
  }

  private _has(id: string): boolean {
    return Array.from(this._app.shell.widgets('main')).some(w => w.id === id);
  }

  private _page(
    id: string,
    content: RunPage | JobLog,
    label: string
  ): MainAreaWidget<RunPage | JobLog> {
    const page = new MainAreaWidget<RunPage | JobLog>({ content });
    page.id = id;
    page.title.icon = dlbenchIcon;
    page.title.label = label;
    page.title.closable = true;
    return page;
  }

  private _app: JupyterFrontEnd;
  private _feed: LiveFeed;
  private _settings: IDLBenchSettings;
  private _submitted: (result: ISubmitResult | null) => void;
}
