/**
 * Small DOM helpers. Every server or user string reaches the page through `textContent`
 * or an attribute, never through innerHTML, so a run named `<img onerror=...>` stays text.
 */

import { FloatValue } from './models';

/** `<tag class="className">text</tag>`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** Turn a status into the suffix of its badge class (`jp-DLBench-status-<status>`). */
export function statusClass(status: string): string {
  const slug = String(status)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `jp-DLBench-status-${slug || 'unknown'}`;
}

export function statusBadge(status: string): HTMLSpanElement {
  const badge = h('span', `jp-DLBench-status ${statusClass(status)}`, status);
  badge.dataset.status = status;
  return badge;
}

/** A metric value for people: 4 significant digits, NaN and infinities as sent. */
export function formatValue(value: FloatValue | unknown): string {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return String(value);
    }
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e5)
      ? value.toExponential(2)
      : String(+value.toPrecision(4));
  }
  if (value === null || value === undefined) {
    return '–';
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `key=value · key=value`, at most `max` entries. */
export function formatPairs(pairs: { [key: string]: unknown } | undefined, max: number): string {
  const entries = Object.entries(pairs ?? {}).filter(([key]) => !key.startsWith('sys/'));
  const shown = entries.slice(0, max).map(([k, v]) => `${k}=${formatValue(v)}`);
  if (entries.length > max) {
    shown.push(`+${entries.length - max}`);
  }
  return shown.join(' · ');
}

export function formatBytes(size: number | null | undefined): string {
  if (typeof size !== 'number') {
    return '–';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number') {
    return '';
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const m = Math.floor(seconds / 60);
  return m < 60
    ? `${m} min ${Math.round(seconds % 60)} s`
    : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** An icon-less text button. */
export function button(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const node = h('button', `jp-DLBench-button ${className}`, label);
  node.type = 'button';
  node.addEventListener('click', event => {
    event.stopPropagation();
    onClick();
  });
  return node;
}
