/**
 * Client-side checks of the Run on GPU form, so obvious mistakes are named before a
 * request is made. The server validates again; its 400 messages are shown the same way.
 */

import { INotebookParameter } from '../models';

export type Checked<T> = { value: T; error?: undefined } | { value?: undefined; error: string };

export const MAX_GPUS = 8;

/** GPUs per run: above 0 and at most 8; a share below 1 divides a GPU evenly; above 1, whole. */
export function checkGpus(text: string): Checked<number> {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (trimmed === '' || !Number.isFinite(value)) {
    return { error: 'GPUs per run must be a number, like 1, 2 or 0.5.' };
  }
  if (value <= 0) {
    return { error: 'GPUs per run must be more than 0 (a share like 0.25, or 1, 2, …).' };
  }
  if (value > MAX_GPUS) {
    return { error: `GPUs per run must be at most ${MAX_GPUS}.` };
  }
  if (value < 1) {
    const perGpu = 1 / value;
    const even = Math.abs(perGpu - Math.round(perGpu)) < 1e-9;
    const hundredths = Math.abs(value * 100 - Math.round(value * 100)) < 1e-9;
    if (!even || !hundredths) {
      return {
        error: `A share of a GPU must divide it evenly, like 0.5, 0.25 or 0.2; ${trimmed} does not.`
      };
    }
  } else if (!Number.isInteger(value)) {
    return {
      error: `Above 1 GPU, ask for whole GPUs (1, 2, … ${MAX_GPUS}); ${trimmed} is not one.`
    };
  }
  return { value };
}

/** The text an input starts with for a parameter's default. */
export function defaultText(param: INotebookParameter): string {
  if (param.source !== undefined && param.type !== 'str') {
    return param.source;
  }
  if (typeof param.default === 'string') {
    return param.default;
  }
  return param.default === undefined ? '' : JSON.stringify(param.default);
}

/** A typed value from an input's text, or what was expected. */
export function checkParam(param: INotebookParameter, text: string): Checked<unknown> {
  const trimmed = text.trim();
  switch (param.type) {
    case 'int':
      if (!/^[+-]?\d+$/.test(trimmed)) {
        return { error: `${param.name} expects a whole number, like ${defaultText(param)}.` };
      }
      return { value: Number(trimmed) };
    case 'float': {
      const value = Number(trimmed);
      if (trimmed === '' || !Number.isFinite(value)) {
        return { error: `${param.name} expects a number, like 0.001 or 1e-3.` };
      }
      return { value };
    }
    case 'bool':
      return { value: trimmed === 'true' };
    case 'str':
      return { value: text };
    default:
      // lists, dicts, None: the server reads the text as a Python literal
      return { value: trimmed };
  }
}

/** Which form field a server message is about: a parameter's name, gpus, sweep, or ''. */
export function fieldOfMessage(message: string, names: string[]): string {
  if (/\bsweep\b/i.test(message)) {
    return 'sweep';
  }
  if (/\bgpus?\b/i.test(message)) {
    return 'gpus';
  }
  for (const name of names) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (new RegExp(`(^|[^\\w])['"\`]?${escaped}['"\`]?([^\\w]|$)`).test(message)) {
      return `param-${name}`;
    }
  }
  return '';
}
