/**
 * The Datasets section: dataset names, each expanding to its versions with size, file
 * count, message and the runs that used it (a click opens the run page).
 */

import { datasetVersions, describeError, listDatasets } from '../api';
import { formatBytes, h } from '../dom';
import { IDataset, IDatasetVersion } from '../models';
import { Section } from './section';

export class DatasetsSection extends Section {
  constructor(openRun: (runId: string) => void) {
    super('Datasets', 'jp-DLBench-datasets');
    this._openRun = openRun;
    this._list = h('ul', 'jp-DLBench-list jp-DLBench-datasetList');
    this.bodyNode.appendChild(this._list);
    this.setMessage('Loading datasets…');
  }

  protected get missingText(): string {
    return 'This server extension does not list datasets (GET datasets).';
  }

  protected async load(): Promise<void> {
    const datasets = await listDatasets();
    if (this.isDisposed) {
      return;
    }
    this.countNode.textContent = datasets.length ? String(datasets.length) : '';
    this.setMessage(datasets.length ? '' : 'No datasets. Add one with dlbench data add NAME PATH.');
    this._list.replaceChildren(...datasets.map(d => this._renderDataset(d)));
    // keep open datasets open, with fresh versions
    for (const name of this._open) {
      const item = this._items.get(name);
      if (item) {
        void this._loadVersions(name, item);
      }
    }
  }

  private _renderDataset(dataset: IDataset): HTMLLIElement {
    const item = h('li', 'jp-DLBench-dataset');
    item.dataset.dataset = dataset.name;
    const head = h('button', 'jp-DLBench-datasetName', dataset.name);
    head.type = 'button';
    const detail = [
      `${dataset.versions} version${dataset.versions === 1 ? '' : 's'}`,
      dataset.latest ? `latest ${dataset.latest}` : '',
      typeof dataset.total_bytes === 'number' ? formatBytes(dataset.total_bytes) : ''
    ].filter(Boolean);
    head.title = detail.join(', ');
    head.setAttribute('aria-expanded', String(this._open.has(dataset.name)));
    head.addEventListener('click', () => {
      if (this._open.delete(dataset.name)) {
        item.querySelector('.jp-DLBench-versions')?.remove();
        head.setAttribute('aria-expanded', 'false');
      } else {
        this._open.add(dataset.name);
        head.setAttribute('aria-expanded', 'true');
        void this._loadVersions(dataset.name, item);
      }
    });
    item.append(head, h('span', 'jp-DLBench-datasetMeta', detail.join(' · ')));
    this._items.set(dataset.name, item);
    return item;
  }

  private async _loadVersions(name: string, item: HTMLLIElement): Promise<void> {
    const list = h('ul', 'jp-DLBench-versions');
    try {
      const versions = await datasetVersions(name);
      list.append(...versions.map(v => this._renderVersion(v)));
      if (versions.length === 0) {
        list.appendChild(h('li', 'jp-DLBench-message', 'No versions.'));
      }
    } catch (error) {
      list.appendChild(h('li', 'jp-DLBench-message jp-mod-error', describeError(error)));
    }
    if (this._open.has(name)) {
      item.querySelector('.jp-DLBench-versions')?.remove();
      item.appendChild(list);
    }
  }

  private _renderVersion(version: IDatasetVersion): HTMLLIElement {
    const row = h('li', 'jp-DLBench-version');
    row.dataset.version = version.version;
    const files = version.file_count;
    const facts = [
      formatBytes(version.total_bytes),
      `${files} file${files === 1 ? '' : 's'}`,
      version.created_at ? version.created_at.slice(0, 10) : ''
    ].filter(Boolean);
    row.append(
      h('span', 'jp-DLBench-versionTag', version.version),
      h('span', 'jp-DLBench-versionFacts', facts.join(' · ')),
      h('span', 'jp-DLBench-versionMessage', version.message ?? '')
    );
    const users = version.used_by ?? [];
    if (users.length > 0) {
      const used = h('span', 'jp-DLBench-usedBy', 'runs: ');
      for (const user of users) {
        const runId = user.run_id;
        const made = user.direction === 'output' ? ' (made it)' : '';
        const link = h('a', 'jp-DLBench-runLink', `${user.run_name || runId}${made}`);
        link.title = `${runId}${user.status ? ` (${user.status})` : ''}`;
        link.href = '#';
        link.addEventListener('click', event => {
          event.preventDefault();
          this._openRun(runId);
        });
        used.appendChild(link);
      }
      row.appendChild(used);
    }
    return row;
  }

  private _openRun: (runId: string) => void;
  private _list: HTMLUListElement;
  private _items = new Map<string, HTMLLIElement>();
  private _open = new Set<string>();
}
