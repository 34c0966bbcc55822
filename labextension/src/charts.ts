/**
 * Tiny SVG charts: a sparkline for sidebar rows and a line chart per metric for the run
 * page. Plain SVG polylines keep the bundle small; no chart library.
 */

import { FloatValue, IMetricHistory } from './models';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: { [key: string]: string | number }
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, String(value));
  }
  return node;
}

/** The finite points of a history, as [x, y] with x the step (or the index). */
export function finitePoints(history: IMetricHistory): [number, number][] {
  const out: [number, number][] = [];
  history.values.forEach((value: FloatValue, i: number) => {
    if (typeof value === 'number' && Number.isFinite(value)) {
      const step = history.steps[i];
      out.push([typeof step === 'number' ? step : i, value]);
    }
  });
  return out;
}

interface IBox {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

function bounds(points: [number, number][]): IBox {
  const xs = points.map(p => p[0]);
  const ys = points.map(p => p[1]);
  let box = { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) };
  if (box.x1 === box.x0) {
    box = { ...box, x0: box.x0 - 1, x1: box.x1 + 1 };
  }
  if (box.y1 === box.y0) {
    box = { ...box, y0: box.y0 - 1, y1: box.y1 + 1 };
  }
  return box;
}

function polyline(
  points: [number, number][],
  box: IBox,
  width: number,
  height: number,
  pad: { left: number; top: number; right: number; bottom: number }
): string {
  const w = width - pad.left - pad.right;
  const ht = height - pad.top - pad.bottom;
  return points
    .map(([x, y]) => {
      const px = pad.left + ((x - box.x0) / (box.x1 - box.x0)) * w;
      const py = pad.top + (1 - (y - box.y0) / (box.y1 - box.y0)) * ht;
      return `${px.toFixed(1)},${py.toFixed(1)}`;
    })
    .join(' ');
}

/** A 80×20 sparkline, or an empty one when there is nothing finite to draw. */
export function sparkline(history: IMetricHistory | null, title: string): SVGSVGElement {
  const width = 80;
  const height = 20;
  const root = svg('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: 'jp-DLBench-sparkline'
  });
  const label = svg('title', {});
  label.textContent = title;
  root.appendChild(label);
  const points = history ? finitePoints(history) : [];
  if (points.length > 0) {
    const pad = { left: 1, top: 2, right: 1, bottom: 2 };
    const line = polyline(points, bounds(points), width, height, pad);
    root.appendChild(svg('polyline', { points: line, fill: 'none' }));
    if (points.length === 1) {
      // one logged point draws no line: show it as a dot
      const [cx, cy] = line.split(',').map(Number);
      root.appendChild(svg('circle', { cx, cy, r: 2 }));
    }
  }
  return root;
}

/** A line chart with its y range and step range as text, for one metric. */
export function lineChart(name: string, history: IMetricHistory): HTMLElement {
  const figure = document.createElement('figure');
  figure.className = 'jp-DLBench-chart';
  figure.dataset.metric = name;
  const caption = document.createElement('figcaption');
  caption.textContent = name;
  figure.appendChild(caption);

  const width = 320;
  const height = 160;
  const pad = { left: 48, top: 8, right: 8, bottom: 20 };
  const root = svg('svg', { width, height, viewBox: `0 0 ${width} ${height}` });
  const points = finitePoints(history);
  root.appendChild(
    svg('rect', {
      x: pad.left,
      y: pad.top,
      width: width - pad.left - pad.right,
      height: height - pad.top - pad.bottom,
      class: 'jp-DLBench-chartFrame'
    })
  );
  if (points.length > 0) {
    const box = bounds(points);
    const text = (x: number, y: number, value: string, anchor: string): void => {
      const node = svg('text', { x, y, 'text-anchor': anchor, class: 'jp-DLBench-chartTick' });
      node.textContent = value;
      root.appendChild(node);
    };
    const fmt = (v: number): string => String(+v.toPrecision(3));
    text(pad.left - 4, pad.top + 8, fmt(box.y1), 'end');
    text(pad.left - 4, height - pad.bottom, fmt(box.y0), 'end');
    text(pad.left, height - 4, fmt(box.x0), 'start');
    text(width - pad.right, height - 4, fmt(box.x1), 'end');
    root.appendChild(
      svg('polyline', {
        points: polyline(points, box, width, height, pad),
        fill: 'none',
        class: 'jp-DLBench-chartLine'
      })
    );
    if (points.length === 1) {
      const [px, py] = polyline(points, box, width, height, pad).split(',').map(Number);
      root.appendChild(svg('circle', { cx: px, cy: py, r: 3, class: 'jp-DLBench-chartDot' }));
    }
  }
  figure.appendChild(root);
  const note = document.createElement('div');
  note.className = 'jp-DLBench-chartNote';
  const last = history.values[history.values.length - 1];
  note.textContent =
    points.length === 0
      ? 'no finite values yet'
      : `${history.values.length} points, last ${typeof last === 'number' ? +last.toPrecision(4) : String(last)}`;
  figure.appendChild(note);
  return figure;
}
