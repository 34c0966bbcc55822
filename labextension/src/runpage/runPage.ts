/**
 * The run page (main area): header with status and params, live metric charts, the
 * report in a sandboxed frame, the output notebook and other artifacts to download,
 * lineage, and Rerun / Rerun with changes.
 */

import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  artifactUrl,
  describeError,
  getRun,
  getRunMetrics,
  getRunReport,
  isMissingEndpoint,
  reportUrl
} from '../api';
import { lineChart } from '../charts';
import { button, formatBytes, formatDuration, formatValue, h, statusBadge } from '../dom';
import { IChange, LiveFeed } from '../live';
import { IRunDetail } from '../models';

/** Where "Open a copy" writes a notebook artifact, relative to the server root. */
export function outputCopyPath(runId: string, artifactPath: string): string {
  return `dlbench-outputs/${runId}/${artifactPath.split('/').pop()}`;
}

const ENDED = new Set(['finished', 'failed', 'crashed', 'cancelled', 'lost']);
const CHART_POINTS = 300;

export interface IRunPageActions {
  rerun(detail: IRunDetail): Promise<void>;
  rerunWithChanges(detail: IRunDetail): Promise<void>;
  /** Open a copy of a notebook artifact in JupyterLab. */
  openNotebook(detail: IRunDetail, artifactPath: string): Promise<void>;
}

export class RunPage extends Widget {
  constructor(runId: string, feed: LiveFeed, actions: IRunPageActions) {
    super();
    this.runId = runId;
    this.addClass('jp-DLBench-runPage');
    this._actions = actions;
    this._header = h('header', 'jp-DLBench-runHeader');
    this._message = h('div', 'jp-DLBench-message');
    this._message.setAttribute('role', 'status');
    this._params = h('section', 'jp-DLBench-runParamsTable');
    this._charts = h('section', 'jp-DLBench-charts');
    this._report = h('section', 'jp-DLBench-report');
    this._artifacts = h('section', 'jp-DLBench-artifacts');
    this._lineage = h('section', 'jp-DLBench-lineage');
    this._problem = h('section', 'jp-DLBench-problem');
    // params, artifacts and lineage side by side above the charts and the report
    const overview = h('div', 'jp-DLBench-overview');
    overview.append(this._params, this._artifacts, this._lineage);
    this.node.append(
      this._header,
      this._message,
      this._problem,
      overview,
      this._charts,
      this._report
    );
    this._message.textContent = 'Loading run…';
    feed.changed.connect(this._onChange, this);
  }

  readonly runId: string;

  get detail(): IRunDetail | null {
    return this._detail;
  }

  /** Fetch the run and its metrics and redraw; the report only once the run has ended. */
  async refresh(): Promise<void> {
    try {
      const detail = await getRun(this.runId);
      const metrics = await getRunMetrics(this.runId, CHART_POINTS);
      if (this.isDisposed) {
        return;
      }
      const ended = ENDED.has(detail.status);
      const wasEnded = this._detail ? ENDED.has(this._detail.status) : false;
      this._detail = detail;
      this._message.textContent = '';
      this._renderHeader(detail);
      this._renderParams(detail);
      this._renderProblem(detail);
      this._renderCharts(metrics.metrics);
      this._renderArtifacts(detail);
      this._renderLineage(detail);
      if (ended && (!wasEnded || !this._reportShown)) {
        await this._loadReport();
      } else if (!ended) {
        this._section(
          this._report,
          'Report',
          h('p', 'jp-DLBench-muted', 'The report is written when the run ends.')
        );
      }
    } catch (error) {
      if (!this.isDisposed) {
        this._message.textContent = `Could not load run ${this.runId}: ${describeError(error)}`;
        this._message.classList.add('jp-mod-error');
      }
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    void this.refresh();
  }

  /** While the run is live, every event about it (or a poll tick) refetches it. */
  private _onChange(_: LiveFeed, change: IChange): void {
    const live = !this._detail || !ENDED.has(this._detail.status);
    const aboutMe = change.id === this.runId || (change.data as any)?.run_id === this.runId;
    if (
      this.isVisible &&
      ((change.kind === 'tick' && live) || (change.kind !== 'tick' && aboutMe))
    ) {
      window.clearTimeout(this._debounce);
      this._debounce = window.setTimeout(() => void this.refresh(), 200);
    }
  }

  private _section(node: HTMLElement, title: string, ...children: Node[]): void {
    node.replaceChildren(h('h2', '', title), ...children);
  }

  private _renderHeader(detail: IRunDetail): void {
    const title = h('h1', 'jp-DLBench-runTitle', detail.name || detail.run_id);
    const facts = [
      `id ${detail.run_id}`,
      `project ${detail.project}`,
      detail.started_at ? `started ${detail.started_at.replace('T', ' ').slice(0, 19)} UTC` : '',
      formatDuration(detail.duration_s),
      detail.executor ? `executor ${detail.executor}` : '',
      detail.cuda_visible_devices ? `GPU ${detail.cuda_visible_devices}` : '',
      detail.job_id ? `job ${detail.job_id}` : ''
    ].filter(Boolean);
    const actions = h('div', 'jp-DLBench-actions');
    actions.append(
      button('Rerun', 'jp-DLBench-rerun', () => void this._act(() => this._actions.rerun(detail))),
      button(
        'Rerun with changes…',
        'jp-DLBench-rerunChanges',
        () => void this._act(() => this._actions.rerunWithChanges(detail))
      ),
      button('Refresh', 'jp-DLBench-refreshRun', () => void this.refresh())
    );
    const line = h('div', 'jp-DLBench-runTitleLine');
    line.append(statusBadge(detail.status), title);
    this._header.replaceChildren(line, h('div', 'jp-DLBench-runFacts', facts.join(' · ')), actions);
    this.title.label = `Run: ${detail.name || detail.run_id}`;
    this.title.caption = `${detail.run_id} (${detail.status})`;
  }

  private async _act(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this._message.textContent = describeError(error);
      this._message.classList.add('jp-mod-error');
    }
  }

  private _renderParams(detail: IRunDetail): void {
    const table = h('table', 'jp-DLBench-table');
    for (const [key, value] of Object.entries(detail.params ?? {})) {
      const row = h('tr');
      row.append(h('th', '', key), h('td', '', formatValue(value)));
      table.appendChild(row);
    }
    const empty = h('p', 'jp-DLBench-muted', 'No params recorded.');
    this._section(this._params, 'Params', Object.keys(detail.params ?? {}).length ? table : empty);
  }

  private _renderProblem(detail: IRunDetail): void {
    const parts: Node[] = [];
    if (detail.error) {
      parts.push(h('pre', 'jp-DLBench-error', detail.error));
    }
    if (detail.output_tail && detail.status !== 'finished') {
      parts.push(h('pre', 'jp-DLBench-outputTail', detail.output_tail));
    }
    this._problem.hidden = parts.length === 0;
    if (parts.length) {
      this._section(this._problem, 'What went wrong', ...parts);
    }
  }

  private _renderCharts(histories: { [key: string]: any }): void {
    const names = Object.keys(histories)
      .filter(k => !k.startsWith('sys/'))
      .sort();
    const grid = h('div', 'jp-DLBench-chartGrid');
    grid.append(...names.map(name => lineChart(name, histories[name])));
    const empty = h('p', 'jp-DLBench-muted', 'No metrics logged yet.');
    this._section(this._charts, 'Metrics', names.length ? grid : empty);
  }

  private _renderArtifacts(detail: IRunDetail): void {
    const list = h('ul', 'jp-DLBench-artifactList');
    for (const artifact of detail.artifacts ?? []) {
      const item = h('li');
      const link = h('a', 'jp-DLBench-artifactLink', artifact.path);
      link.href = artifactUrl(detail.run_id, artifact.path);
      link.download = artifact.path.split('/').pop() || 'artifact';
      item.append(link, h('span', 'jp-DLBench-muted', ` ${formatBytes(artifact.size)}`));
      if (artifact.path.endsWith('.ipynb')) {
        const open = button(
          'Open a copy',
          'jp-DLBench-openNotebook',
          () => void this._act(() => this._actions.openNotebook(detail, artifact.path))
        );
        open.title = `Copy ${artifact.path} to ${outputCopyPath(detail.run_id, artifact.path)} and open it`;
        item.append(' ', open);
      }
      list.appendChild(item);
    }
    const empty = h('p', 'jp-DLBench-muted', 'No artifacts.');
    this._section(this._artifacts, 'Artifacts', (detail.artifacts ?? []).length ? list : empty);
  }

  /** Inputs (dataset versions) and outputs, when the server reports them. */
  private _renderLineage(detail: IRunDetail): void {
    const describe = (entry: unknown): string => {
      if (entry && typeof entry === 'object') {
        const e = entry as { [key: string]: unknown };
        const name = e.dataset ?? e.name ?? e.path ?? e.kind;
        const version = e.version ?? e.tag ?? e.oid;
        return (
          [name, version]
            .filter(v => v !== undefined && v !== null)
            .map(String)
            .join(' @ ') || JSON.stringify(entry)
        );
      }
      return String(entry);
    };
    const column = (title: string, entries: unknown[] | null | undefined): HTMLElement => {
      const box = h('div', 'jp-DLBench-lineageColumn');
      box.append(h('h3', '', title));
      const list = h('ul');
      list.append(...(entries ?? []).map(e => h('li', '', describe(e))));
      box.append((entries ?? []).length ? list : h('p', 'jp-DLBench-muted', 'none recorded'));
      return box;
    };
    const inputs = detail.inputs ?? [];
    // dataset versions it committed, then the files it kept
    const outputs = [
      ...(detail.outputs ?? []),
      ...(detail.artifacts ?? []).map(a => ({ path: a.path }))
    ];
    this._section(this._lineage, 'Lineage', column('Inputs', inputs), column('Outputs', outputs));
  }

  private async _loadReport(): Promise<void> {
    try {
      await getRunReport(this.runId); // a clear message instead of a frame showing an error
      // scripts may run (charts), but in an opaque origin: no cookies, no Jupyter API
      const frame = h('iframe', 'jp-DLBench-reportFrame');
      frame.setAttribute('sandbox', 'allow-scripts');
      frame.title = `Report of ${this.runId}`;
      frame.src = reportUrl(this.runId);
      this._section(this._report, 'Report', frame);
      this._reportShown = true;
    } catch (error) {
      const text =
        isMissingEndpoint(error) || (error as any)?.response?.status === 404
          ? 'No report for this run.'
          : `Could not load the report: ${describeError(error)}`;
      this._section(this._report, 'Report', h('p', 'jp-DLBench-muted', text));
    }
  }

  private _actions: IRunPageActions;
  private _detail: IRunDetail | null = null;
  private _header: HTMLElement;
  private _message: HTMLDivElement;
  private _params: HTMLElement;
  private _problem: HTMLElement;
  private _charts: HTMLElement;
  private _report: HTMLElement;
  private _artifacts: HTMLElement;
  private _lineage: HTMLElement;
  private _reportShown = false;
  private _debounce = 0;
}
