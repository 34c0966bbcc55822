/**
 * The Runs section: status badge, name, key params, last metrics and a sparkline per run,
 * a filter box, rows updated in place (keyed by run id) so a refresh never rebuilds the list.
 */

import { getRunMetrics, listRuns } from '../api';
import { sparkline } from '../charts';
import { formatPairs, h, statusBadge } from '../dom';
import { IMetricHistory, IRunSummary } from '../models';
import { Section } from './section';

const LIMIT = 100;
/** Sparklines are fetched for the first rows only; one request each. */
const SPARKLINES = 20;
/** A running run's sparkline is redrawn at most this often. */
const RUNNING_SPARK_MS = 5000;
const SQL_LIKE = /(params|metrics)\.|[<>=]|\b(and|or|like)\b/i;

/** The metric a sparkline shows: `loss` when logged, else the first non-system metric. */
export function sparkMetric(metrics: { [key: string]: unknown } | undefined): string | null {
  const keys = Object.keys(metrics ?? {}).filter(k => !k.startsWith('sys/'));
  return keys.includes('loss') ? 'loss' : (keys.sort()[0] ?? null);
}

/** Param names whose values differ between the runs: what tells runs apart, shown first. */
export function varyingKeys(runs: IRunSummary[]): Set<string> {
  const seen = new Map<string, string>();
  const varying = new Set<string>();
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.params ?? {})) {
      const text = JSON.stringify(value);
      if (seen.has(key) && seen.get(key) !== text) {
        varying.add(key);
      }
      seen.set(key, text);
    }
  }
  return varying;
}

/** The params with the varying ones first, each group in the server's order. */
export function keyParams(
  params: { [key: string]: unknown } | undefined,
  varying: Set<string>
): { [key: string]: unknown } {
  const entries = Object.entries(params ?? {});
  return Object.fromEntries(
    entries.filter(([k]) => varying.has(k)).concat(entries.filter(([k]) => !varying.has(k)))
  );
}

/** Assign a text property only when it differs, so unchanged parts cause no DOM mutation. */
function setText(node: HTMLElement, key: 'textContent' | 'title', value: string): void {
  if (node[key] !== value) {
    node[key] = value;
  }
}

export class RunsSection extends Section {
  constructor(openRun: (runId: string) => void) {
    super('Runs', 'jp-DLBench-runs');
    this._openRun = openRun;
    this._filter = h('input', 'jp-DLBench-filter jp-mod-styled');
    this._filter.type = 'search';
    this._filter.placeholder = 'Filter: name, or params.lr < 0.01';
    this._filter.setAttribute('aria-label', 'Filter runs');
    this._filter.addEventListener('input', () => {
      window.clearTimeout(this._filterTimer);
      this._filterTimer = window.setTimeout(() => void this.refresh(), 300);
    });
    this._list = h('ul', 'jp-DLBench-list jp-DLBench-runList');
    this.bodyNode.insertBefore(this._filter, this.messageNode);
    this.bodyNode.appendChild(this._list);
    this.setMessage('Loading runs…');
  }

  protected get missingText(): string {
    return 'The server extension does not list runs.';
  }

  protected async load(): Promise<void> {
    const text = this._filter.value.trim();
    const sql = SQL_LIKE.test(text);
    const answer = await listRuns({ where: sql ? text : undefined, limit: LIMIT });
    if (this.isDisposed) {
      return;
    }
    let runs = Array.isArray(answer.runs) ? answer.runs : [];
    if (text && !sql) {
      const needle = text.toLowerCase();
      runs = runs.filter(r =>
        [r.name ?? '', r.run_id, r.project, r.status].some(v => v.toLowerCase().includes(needle))
      );
    }
    const total = answer.total ?? runs.length;
    this.countNode.textContent = String(sql || !text ? total : runs.length);
    if (runs.length === 0) {
      this.setMessage(
        text
          ? 'No run matches the filter.'
          : 'No runs yet. Click Run on GPU in a notebook, or call dlb.init().'
      );
    } else if (total > runs.length && !text) {
      this.setMessage(`Newest ${runs.length} of ${total} runs`);
    } else {
      this.setMessage('');
    }
    this._varying = varyingKeys(runs);
    this._reconcile(runs);
    void this._loadSparklines(runs.slice(0, SPARKLINES));
  }

  /**
   * Add, move, update or drop rows so the list matches `runs`, touching only what changed.
   * A row that stays keeps its DOM node (focus, hover, a text selection survive); only the
   * texts and the badge that changed are rewritten, so a stream of metrics never rebuilds it.
   */
  private _reconcile(runs: IRunSummary[]): void {
    const seen = new Set<string>();
    runs.forEach((run, index) => {
      seen.add(run.run_id);
      const params = keyParams(run.params, this._varying);
      const signature = JSON.stringify([run.status, run.name, params, run.metrics]);
      let row = this._rows.get(run.run_id);
      if (!row) {
        row = this._renderRow(run);
        this._rows.set(run.run_id, row);
      }
      if (row.dataset.signature !== signature) {
        this._updateRow(row, run, params);
        row.dataset.signature = signature;
      }
      if (this._list.children[index] !== row) {
        this._list.insertBefore(row, this._list.children[index] ?? null);
      }
    });
    for (const [id, row] of this._rows) {
      if (!seen.has(id)) {
        row.remove();
        this._rows.delete(id);
      }
    }
  }

  /** A new row's frame: its parts are filled by `_updateRow`. */
  private _renderRow(run: IRunSummary): HTMLLIElement {
    const row = h('li', 'jp-DLBench-run');
    row.dataset.runId = run.run_id;
    row.tabIndex = 0;
    const open = (): void => this._openRun(run.run_id);
    row.addEventListener('click', open);
    row.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        open();
      }
    });
    const text = h('div', 'jp-DLBench-runText');
    text.append(
      h('span', 'jp-DLBench-runName'),
      h('span', 'jp-DLBench-runParams'),
      h('span', 'jp-DLBench-runMetrics')
    );
    const slot = h('span', 'jp-DLBench-sparkSlot');
    const cached = this._sparks.get(run.run_id);
    if (cached) {
      slot.appendChild(cached.node.cloneNode(true));
    }
    row.append(statusBadge(run.status), text, slot);
    return row;
  }

  /** Rewrite the parts of a row whose text changed, in place. */
  private _updateRow(
    row: HTMLLIElement,
    run: IRunSummary,
    params: { [key: string]: unknown }
  ): void {
    row.dataset.status = run.status;
    setText(
      row,
      'title',
      `${run.run_id}${run.started_at ? `\nstarted ${run.started_at}` : ''}\nClick to open the run page`
    );
    const badge = row.querySelector<HTMLElement>('.jp-DLBench-status');
    if (badge && badge.dataset.status !== run.status) {
      badge.replaceWith(statusBadge(run.status));
    }
    const part = (name: string): HTMLElement => row.querySelector(`.jp-DLBench-${name}`)!;
    setText(part('runName'), 'textContent', run.name || run.run_id);
    setText(part('runParams'), 'textContent', formatPairs(params, 3));
    setText(part('runParams'), 'title', formatPairs(params, 1000));
    setText(part('runMetrics'), 'textContent', formatPairs(run.metrics, 2));
  }

  /** Fetch a sparkline only when the run's last metrics changed since the one drawn. */
  private async _loadSparklines(runs: IRunSummary[]): Promise<void> {
    for (const run of runs) {
      const key = sparkMetric(run.metrics);
      const version = JSON.stringify([run.status, run.metrics]);
      const drawn = this._sparks.get(run.run_id);
      const recent = drawn !== undefined && Date.now() - drawn.at < RUNNING_SPARK_MS;
      if (!key || drawn?.version === version || (run.status === 'running' && recent)) {
        continue; // unchanged, or a live run redrawn moments ago: spare the catalog
      }
      let history: IMetricHistory | null = null;
      try {
        history = (await getRunMetrics(run.run_id, 50)).metrics[key] ?? null;
      } catch {
        continue; // the list stays useful without its sparklines
      }
      const slot = this._rows.get(run.run_id)?.querySelector('.jp-DLBench-sparkSlot');
      if (this.isDisposed || !slot) {
        return;
      }
      const node = sparkline(history, `${key} over steps`);
      this._sparks.set(run.run_id, { version, node, at: Date.now() });
      slot.replaceChildren(node.cloneNode(true));
    }
  }

  private _openRun: (runId: string) => void;
  private _filter: HTMLInputElement;
  private _filterTimer = 0;
  private _list: HTMLUListElement;
  private _rows = new Map<string, HTMLLIElement>();
  /** The last sparkline drawn per run, and the status + metrics it was drawn for. */
  private _sparks = new Map<string, { version: string; node: SVGSVGElement; at: number }>();
  private _varying = new Set<string>();
}
