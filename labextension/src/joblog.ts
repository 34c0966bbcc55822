/**
 * A job's log in the main area, tailed from the server (`GET jobs/{id}/logs?offset=`) until
 * the job has ended: what papermill and the notebook printed, for a failed or slow job.
 */

import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { describeError, jobLogs } from './api';
import { h } from './dom';

const POLL_MS = 1500;
/** Keep the page light: older text is dropped past this many characters. */
const MAX_CHARS = 400_000;

export class JobLog extends Widget {
  constructor(jobId: string) {
    super();
    this.jobId = jobId;
    this.addClass('jp-DLBench-jobLog');
    this.title.label = `Log ${jobId}`;
    this._status = h('div', 'jp-DLBench-message', 'Loading the log…');
    this._text = h('pre', 'jp-DLBench-logText');
    this.node.append(this._status, this._text);
  }

  readonly jobId: string;

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this._poll();
  }

  protected onBeforeDetach(msg: Message): void {
    window.clearTimeout(this._timer);
    super.onBeforeDetach(msg);
  }

  private async _poll(): Promise<void> {
    try {
      const piece = await jobLogs(this.jobId, this._offset);
      if (this.isDisposed) {
        return;
      }
      this._offset = piece.next_offset;
      if (piece.text) {
        const atBottom = this.node.scrollTop + this.node.clientHeight >= this.node.scrollHeight - 8;
        const text = (this._text.textContent ?? '') + piece.text;
        this._text.textContent = text.length > MAX_CHARS ? text.slice(-MAX_CHARS) : text;
        if (atBottom) {
          this.node.scrollTop = this.node.scrollHeight;
        }
      }
      this._status.textContent = piece.complete
        ? 'The job has ended; this is its whole log.'
        : 'Following the log…';
      if (piece.complete) {
        return;
      }
    } catch (error) {
      this._status.textContent = `Could not read the log: ${describeError(error)}`;
      this._status.classList.add('jp-mod-error');
    }
    if (this.isAttached) {
      this._timer = window.setTimeout(() => void this._poll(), POLL_MS);
    }
  }

  private _offset = 0;
  private _timer = 0;
  private _status: HTMLDivElement;
  private _text: HTMLPreElement;
}
