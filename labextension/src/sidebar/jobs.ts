/**
 * The Jobs section: queued and running jobs first, then the recent finished ones, with
 * their GPU assignment, a link to their run and a cancel button (`DELETE jobs/{id}`).
 */

import { cancelJob, describeError, listJobs } from '../api';
import { button, formatPairs, h, statusBadge } from '../dom';
import { IJob } from '../models';
import { Section } from './section';

const ACTIVE = new Set(['queued', 'running', 'starting', 'claimed']);
const RECENT = 20;

/** `GPU 0, 1`, `GPU 0 (0.5 share)`, `CPU` for none, `needs 1 GPU` while waiting for one. */
export function gpuText(job: IJob): string {
  const ids = job.gpu_ids ?? [];
  if (ids.length > 0) {
    const share = job.gpus > 0 && job.gpus < 1 ? ` (${job.gpus} share)` : '';
    return `GPU ${ids.join(', ')}${share}`;
  }
  if (!job.gpus) {
    return 'CPU';
  }
  return ACTIVE.has(job.status) ? `needs ${job.gpus} GPU` : `${job.gpus} GPU`;
}

export function notebookName(path: string): string {
  return path.split('/').pop() || path;
}

export class JobsSection extends Section {
  constructor(openRun: (runId: string) => void, openLog: (jobId: string) => void) {
    super('Jobs', 'jp-DLBench-jobs');
    this._openRun = openRun;
    this._openLog = openLog;
    this._list = h('ul', 'jp-DLBench-list jp-DLBench-jobList');
    this.bodyNode.appendChild(this._list);
    this.setMessage('Loading jobs…');
  }

  protected get missingText(): string {
    return 'This server extension has no job queue (GET jobs).';
  }

  protected async load(): Promise<void> {
    const jobs = await listJobs();
    if (this.isDisposed) {
      return;
    }
    const active = jobs.filter(j => ACTIVE.has(j.status));
    const done = jobs
      .filter(j => !ACTIVE.has(j.status))
      .sort((a, b) =>
        String(b.ended_at ?? b.submitted_at ?? '').localeCompare(
          String(a.ended_at ?? a.submitted_at ?? '')
        )
      )
      .slice(0, RECENT);
    const queued = active.filter(j => j.status === 'queued').length;
    this.countNode.textContent = active.length
      ? `${active.length - queued} running · ${queued} queued`
      : '';
    this.setMessage(jobs.length === 0 ? 'No jobs. Submit one with Run on GPU.' : '');
    // queue position: the scheduler takes queued jobs oldest first
    const order = active
      .filter(j => j.status === 'queued')
      .sort((a, b) => String(a.submitted_at ?? '').localeCompare(String(b.submitted_at ?? '')));
    this._positions = new Map(order.map((j, i) => [j.job_id, i + 1]));
    this._reconcile(active.concat(done));
  }

  /**
   * Keep the row of every job that did not change (same node: focus and a hovered button
   * survive the refreshes that runs streaming metrics cause); re-render only changed jobs.
   */
  private _reconcile(jobs: IJob[]): void {
    const rows = jobs.map(job => {
      const signature = JSON.stringify([
        job.status,
        job.name,
        job.notebook,
        job.params,
        job.run_id,
        job.error,
        this._where(job)
      ]);
      const old = this._rows.get(job.job_id);
      if (old && old.dataset.signature === signature) {
        return old;
      }
      const row = this._renderJob(job);
      row.dataset.signature = signature;
      return row;
    });
    this._rows = new Map(jobs.map((job, i) => [job.job_id, rows[i]]));
    rows.forEach((row, index) => {
      if (this._list.children[index] !== row) {
        this._list.insertBefore(row, this._list.children[index] ?? null);
      }
    });
    while (this._list.children.length > rows.length) {
      this._list.lastElementChild!.remove();
    }
  }

  private _renderJob(job: IJob): HTMLLIElement {
    const row = h('li', 'jp-DLBench-job');
    row.dataset.jobId = job.job_id;
    row.dataset.status = job.status;
    row.title = job.error ? `${job.job_id}\n${job.error}` : job.job_id;
    const text = h('div', 'jp-DLBench-runText');
    text.append(
      h('span', 'jp-DLBench-runName', job.name || notebookName(job.notebook)),
      h('span', 'jp-DLBench-runParams', formatPairs(job.params, 3)),
      h('span', 'jp-DLBench-jobGpu', this._where(job))
    );
    if (job.error) {
      text.appendChild(h('span', 'jp-DLBench-jobError', job.error));
    }
    row.append(statusBadge(job.status), text);
    const actions = h('span', 'jp-DLBench-actions');
    if (job.run_id) {
      const runId = job.run_id;
      const open = button('Run', 'jp-DLBench-openRun', () => this._openRun(runId));
      open.title = `Open the run page of ${runId}`;
      actions.appendChild(open);
    }
    const log = button('Log', 'jp-DLBench-openLog', () => this._openLog(job.job_id));
    log.title = `Show the log of ${job.job_id}`;
    actions.appendChild(log);
    if (ACTIVE.has(job.status)) {
      const cancel = button('Cancel', 'jp-DLBench-cancel', () => void this._cancel(job, cancel));
      cancel.title = `Cancel ${job.job_id}`;
      actions.appendChild(cancel);
    }
    row.appendChild(actions);
    return row;
  }

  private async _cancel(job: IJob, node: HTMLButtonElement): Promise<void> {
    node.disabled = true;
    node.textContent = 'Cancelling…';
    try {
      await cancelJob(job.job_id);
    } catch (error) {
      this.setMessage(`Could not cancel ${job.job_id}: ${describeError(error)}`, true);
      node.disabled = false; // the row stays as it was: offer the button again
      node.textContent = 'Cancel';
    }
    await this.refresh();
  }

  /** `local · GPU 0`, or `local · needs 1 GPU · #2 in queue` while queued. */
  private _where(job: IJob): string {
    const position = this._positions.get(job.job_id);
    return [job.executor, gpuText(job), position ? `#${position} in queue` : '']
      .filter(Boolean)
      .join(' · ');
  }

  private _positions = new Map<string, number>();
  private _rows = new Map<string, HTMLLIElement>();
  private _openRun: (runId: string) => void;
  private _openLog: (jobId: string) => void;
  private _list: HTMLUListElement;
}
