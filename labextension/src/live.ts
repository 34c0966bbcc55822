/**
 * Live updates: the server's `GET events` stream (server-sent events) when it is there,
 * polling otherwise. Views subscribe to `changed` and refetch only what changed, so eight
 * runs streaming metrics do not reload the whole sidebar.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { browserUrl } from './api';

/** What changed: a kind the server names (run, job, dataset), or `tick` for a poll. */
export interface IChange {
  kind: string;
  id?: string;
  data?: unknown;
}

/** With a live stream, still poll this many times slower, in case an event was missed. */
const SAFETY_FACTOR = 6;

export class LiveFeed {
  constructor(intervalMs: number, live: boolean) {
    this._intervalMs = intervalMs;
    this._live = live;
  }

  get changed(): ISignal<this, IChange> {
    return this._changed;
  }

  /** True while the event stream is open (the sidebar shows it). */
  get streaming(): boolean {
    return this._source?.readyState === EventSource.OPEN;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Apply new settings; restarts the stream and the timer. */
  configure(intervalMs: number, live: boolean): void {
    this._intervalMs = Math.max(500, intervalMs);
    this._live = live;
    if (this._started) {
      this.start();
    }
  }

  start(): void {
    this._started = true;
    this._closeSource();
    if (this._live && typeof EventSource !== 'undefined') {
      this._openSource();
    }
    this._schedule();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._closeSource();
    window.clearInterval(this._timer);
    Signal.clearData(this);
  }

  private _openSource(): void {
    const source = new EventSource(browserUrl('events'));
    const forward = (kind: string) => (event: MessageEvent) => {
      let data: any = undefined;
      try {
        data = JSON.parse(event.data);
      } catch {
        data = event.data;
      }
      const named = data && typeof data === 'object' ? data : {};
      this._changed.emit({
        kind: kind === 'message' ? String(named.kind ?? named.type ?? 'tick') : kind,
        id: named.run_id ?? named.job_id ?? named.name ?? named.id,
        data
      });
    };
    for (const kind of ['message', 'run', 'job', 'dataset', 'metrics']) {
      source.addEventListener(kind, forward(kind) as EventListener);
    }
    source.onopen = () => this._schedule();
    source.onerror = () => {
      // CLOSED: the server has no stream (404) or refused it; fall back to polling.
      // CONNECTING: the browser retries by itself; poll meanwhile.
      this._schedule();
    };
    this._source = source;
  }

  private _closeSource(): void {
    this._source?.close();
    this._source = null;
  }

  private _schedule(): void {
    window.clearInterval(this._timer);
    if (this._disposed) {
      return;
    }
    const streaming = this.streaming;
    const every = streaming ? this._intervalMs * SAFETY_FACTOR : this._intervalMs;
    this._timer = window.setInterval(() => {
      this._changed.emit({ kind: 'tick' });
      if (this.streaming !== streaming) {
        this._schedule();
      }
    }, every);
  }

  private _changed = new Signal<this, IChange>(this);
  private _source: EventSource | null = null;
  private _timer = 0;
  private _intervalMs: number;
  private _live: boolean;
  private _started = false;
  private _disposed = false;
}
