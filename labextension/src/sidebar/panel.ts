/**
 * The DL Bench left-sidebar panel: Runs, Jobs and Datasets sections, refreshed by the live
 * feed (server events, or polling) while the panel is visible.
 */

import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { h } from '../dom';
import { dlbenchIcon } from '../icon';
import { IChange, LiveFeed } from '../live';
import { DatasetsSection } from './datasets';
import { JobsSection } from './jobs';
import { RunsSection } from './runs';

/** The DOM id of the panel; the palette command and the layout restorer use it. */
export const SIDEBAR_ID = 'dlbench-sidebar';

export class DLBenchSidebar extends Panel {
  constructor(feed: LiveFeed, openRun: (runId: string) => void, openLog: (jobId: string) => void) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-DLBench-sidebar');
    this.title.icon = dlbenchIcon;
    this.title.caption = 'DL Bench';

    const header = h('div', 'jp-DLBench-header');
    header.append(h('h2', '', 'DL Bench'));
    this._live = h('span', 'jp-DLBench-liveState');
    header.append(this._live);
    this.addWidget(new Widget({ node: header }));

    this.runs = new RunsSection(openRun);
    this.jobs = new JobsSection(openRun, openLog);
    this.datasets = new DatasetsSection(openRun);
    this.addWidget(this.jobs);
    this.addWidget(this.runs);
    this.addWidget(this.datasets);
    this._feed = feed;
    feed.changed.connect(this._onChange, this);
  }

  readonly runs: RunsSection;
  readonly jobs: JobsSection;
  readonly datasets: DatasetsSection;

  /** Refresh every section now. */
  async refresh(): Promise<void> {
    await Promise.all([this.runs.refresh(), this.jobs.refresh(), this.datasets.refresh()]);
    this._showLiveState();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.refresh();
    }
  }

  /** Coalesce bursts of events (eight runs streaming metrics) into one refresh per section. */
  private _onChange(_: LiveFeed, change: IChange): void {
    if (!this.isVisible) {
      return;
    }
    const kind = change.kind;
    if (kind === 'tick' || kind === 'run' || kind === 'metrics' || kind.startsWith('run')) {
      this._dirty.add('runs');
    }
    if (kind === 'tick' || kind.startsWith('job')) {
      this._dirty.add('jobs');
      this._dirty.add('runs');
    }
    if (kind === 'tick' || kind.startsWith('dataset')) {
      this._dirty.add('datasets');
    }
    if (this._dirty.size > 0 && !this._flush) {
      this._flush = window.setTimeout(() => {
        this._flush = 0;
        const dirty = Array.from(this._dirty);
        this._dirty.clear();
        for (const name of dirty) {
          void (this as any)[name].refresh();
        }
        this._showLiveState();
      }, 250);
    }
  }

  private _showLiveState(): void {
    const streaming = this._feed.streaming;
    this._live.textContent = streaming ? '● live' : '';
    this._live.title = streaming
      ? 'Updates arrive from the server as they happen'
      : 'Refreshing every few seconds';
  }

  private _feed: LiveFeed;
  private _live: HTMLSpanElement;
  private _dirty = new Set<'runs' | 'jobs' | 'datasets'>();
  private _flush = 0;
}
