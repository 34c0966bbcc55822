/**
 * The frame every sidebar section shares: a collapsible header with a count and a refresh
 * button, a status line, and a body. Subclasses implement `load`; concurrent refreshes
 * share one request so the timer, events and the button never stack fetches.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { describeError, isMissingEndpoint } from '../api';
import { h } from '../dom';

export abstract class Section extends Widget {
  constructor(title: string, className: string) {
    super();
    this.addClass('jp-DLBench-section');
    this.addClass(className);
    this.node.setAttribute('aria-label', title);

    const header = h('div', 'jp-DLBench-sectionHeader');
    const toggle = h('button', 'jp-DLBench-sectionTitle', title);
    toggle.type = 'button';
    toggle.setAttribute('aria-expanded', 'true');
    toggle.addEventListener('click', () => {
      const collapsed = this.node.classList.toggle('jp-mod-collapsed');
      toggle.setAttribute('aria-expanded', String(!collapsed));
    });
    this.countNode = h('span', 'jp-DLBench-count');
    const refresh = h('button', 'jp-DLBench-refresh');
    refresh.type = 'button';
    refresh.title = `Refresh ${title.toLowerCase()}`;
    refresh.setAttribute('aria-label', refresh.title);
    refresh.appendChild(refreshIcon.element({ elementSize: 'normal' }));
    refresh.addEventListener('click', () => void this.refresh());
    header.append(toggle, this.countNode, refresh);

    this.messageNode = h('div', 'jp-DLBench-message');
    this.messageNode.setAttribute('role', 'status');
    this.bodyNode = h('div', 'jp-DLBench-sectionBody');
    this.node.append(header, this.bodyNode);
    this.bodyNode.appendChild(this.messageNode);
  }

  /** Fetch and redraw; calls made while a fetch is in flight share it. */
  refresh(): Promise<void> {
    if (!this._pending) {
      this._pending = this._guarded().finally(() => {
        this._pending = null;
      });
    }
    return this._pending;
  }

  protected abstract load(): Promise<void>;

  /** What to say when the server has no such endpoint yet. */
  protected abstract get missingText(): string;

  protected setMessage(text: string, error = false): void {
    this.messageNode.textContent = text;
    this.messageNode.classList.toggle('jp-mod-error', error);
    this.messageNode.hidden = text === '';
  }

  private async _guarded(): Promise<void> {
    try {
      await this.load();
    } catch (error) {
      if (this.isDisposed) {
        return;
      }
      if (isMissingEndpoint(error)) {
        this.setMessage(this.missingText);
      } else {
        this.setMessage(`Could not load: ${describeError(error)}`, true);
      }
    }
  }

  protected countNode: HTMLSpanElement;
  protected messageNode: HTMLDivElement;
  protected bodyNode: HTMLDivElement;
  private _pending: Promise<void> | null = null;
}
