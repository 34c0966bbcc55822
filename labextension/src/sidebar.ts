/**
 * The DL Bench left-sidebar panel: a heading and a "Runs" section listing the runs the
 * server extension reports. Every server string reaches the DOM through `textContent`
 * (or a sanitised class name), never through innerHTML.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { describeError, listRuns } from './api';
import { dlbenchIcon } from './icon';
import { IRunList, IRunSummary } from './models';

/** The DOM id of the panel; the palette command and the layout restorer use it. */
export const SIDEBAR_ID = 'dlbench-sidebar';

/** How often the run list is fetched again while the panel is visible. */
export const REFRESH_INTERVAL_MS = 5000;

/** Turn a run status into the suffix of its badge class (`jp-DLBench-status-<status>`). */
export function statusClass(status: string): string {
  const slug = status
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `jp-DLBench-status-${slug || 'unknown'}`;
}

/** One `<li>` for a run: status badge, then its name (or id) over its project. */
export function renderRun(run: IRunSummary): HTMLLIElement {
  const row = document.createElement('li');
  row.className = 'jp-DLBench-run';
  row.dataset.runId = run.run_id;
  const started = run.started_at ? `\nstarted ${run.started_at}` : '';
  row.title = `${run.run_id}${started}`;

  const badge = document.createElement('span');
  badge.classList.add('jp-DLBench-status', statusClass(run.status));
  badge.textContent = run.status;
  row.appendChild(badge);

  const text = document.createElement('div');
  text.className = 'jp-DLBench-runText';
  const name = document.createElement('span');
  name.className = 'jp-DLBench-runName';
  name.textContent = run.name || run.run_id;
  const project = document.createElement('span');
  project.className = 'jp-DLBench-runProject';
  project.textContent = run.project;
  text.append(name, project);
  row.appendChild(text);
  return row;
}

/** The sidebar panel. Construction does no I/O; the first fetch happens when it is shown. */
export class DLBenchSidebar extends Widget {
  constructor() {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-DLBench-sidebar');
    this.title.icon = dlbenchIcon;
    this.title.caption = 'DL Bench';

    const header = document.createElement('div');
    header.className = 'jp-DLBench-header';
    const heading = document.createElement('h2');
    heading.textContent = 'DL Bench';
    header.appendChild(heading);

    const section = document.createElement('section');
    section.className = 'jp-DLBench-section';
    section.setAttribute('aria-label', 'Runs');
    const sectionHeader = document.createElement('div');
    sectionHeader.className = 'jp-DLBench-sectionHeader';
    const sectionTitle = document.createElement('h3');
    sectionTitle.className = 'jp-DLBench-sectionTitle';
    sectionTitle.textContent = 'Runs';

    this._refreshButton = document.createElement('button');
    this._refreshButton.className = 'jp-DLBench-refresh';
    this._refreshButton.type = 'button';
    this._refreshButton.title = 'Refresh runs';
    this._refreshButton.setAttribute('aria-label', 'Refresh runs');
    this._refreshButton.appendChild(refreshIcon.element({ elementSize: 'normal' }));
    this._refreshButton.addEventListener('click', () => void this.refresh());
    sectionHeader.append(sectionTitle, this._refreshButton);

    this._message = document.createElement('div');
    this._message.className = 'jp-DLBench-message';
    this._message.setAttribute('role', 'status');
    this._message.textContent = 'Loading runs…';
    this._workspace = document.createElement('div');
    this._workspace.className = 'jp-DLBench-workspace';
    this._list = document.createElement('ul');
    this._list.className = 'jp-DLBench-runList';

    section.append(sectionHeader, this._message, this._workspace, this._list);
    this.node.append(header, section);
  }

  /**
   * Fetch the run list and redraw. Calls made while a fetch is in flight share it, so
   * the timer and the button never stack requests.
   */
  refresh(): Promise<void> {
    if (!this._pending) {
      this._pending = this._load().finally(() => {
        this._pending = null;
      });
    }
    return this._pending;
  }

  dispose(): void {
    this._stopTimer();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._startTimer();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._startTimer();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._stopTimer();
  }

  protected onBeforeDetach(msg: Message): void {
    this._stopTimer();
    super.onBeforeDetach(msg);
  }

  private async _load(): Promise<void> {
    this._refreshButton.disabled = true;
    try {
      const answer = await listRuns();
      if (!this.isDisposed) {
        this._showRuns(answer);
      }
    } catch (error) {
      if (!this.isDisposed) {
        this._showError(describeError(error));
      }
    } finally {
      this._refreshButton.disabled = false;
    }
  }

  private _showRuns(answer: IRunList): void {
    const runs = Array.isArray(answer.runs) ? answer.runs : [];
    this._message.classList.remove('jp-mod-error');
    if (runs.length === 0) {
      this._message.textContent = 'No runs yet. Start one from a notebook with dlb.init().';
    } else if (answer.total !== undefined && answer.total > runs.length) {
      this._message.textContent = `Newest ${runs.length} of ${answer.total} runs`;
    } else {
      this._message.textContent = runs.length === 1 ? '1 run' : `${runs.length} runs`;
    }
    this._workspace.textContent = answer.workspace ? `Workspace: ${answer.workspace}` : '';
    this._workspace.title = answer.workspace ?? '';
    this._list.replaceChildren(...runs.map(renderRun));
  }

  private _showError(text: string): void {
    this._message.classList.add('jp-mod-error');
    this._message.textContent = `Could not load runs. ${text}`;
    this._workspace.textContent = '';
    this._list.replaceChildren();
  }

  /** Fetch now, then every REFRESH_INTERVAL_MS until hidden or detached. */
  private _startTimer(): void {
    void this.refresh();
    this._stopTimer();
    this._timer = window.setInterval(() => void this.refresh(), REFRESH_INTERVAL_MS);
  }

  private _stopTimer(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _refreshButton: HTMLButtonElement;
  private _message: HTMLDivElement;
  private _workspace: HTMLDivElement;
  private _list: HTMLUListElement;
  private _pending: Promise<void> | null = null;
  private _timer: number | null = null;
}
