/**
 * The body of the Run on GPU dialog: one typed input per notebook parameter (with its
 * default), executor, GPUs per run, an optional sweep with a live count of the runs it
 * expands to, and inline errors next to the field they are about.
 */

import { Widget } from '@lumino/widgets';

import { APIError, describeError, isMissingEndpoint, previewSweep } from '../api';
import { h } from '../dom';
import { IJobRequest, INotebookParameter } from '../models';
import { IDLBenchSettings } from '../settings';
import { checkGpus, checkParam, defaultText, fieldOfMessage } from './validate';

export interface IRunFormOptions {
  path: string;
  parameters: INotebookParameter[];
  /** Why the parameters could not be read, shown instead of the inputs. */
  parametersError?: string;
  /** Values replacing the defaults (a rerun with changes). */
  values?: { [key: string]: unknown };
  name?: string;
  settings: IDLBenchSettings;
  note?: string;
}

export class RunForm extends Widget {
  constructor(options: IRunFormOptions) {
    super();
    this.addClass('jp-DLBench-runForm');
    this._options = options;
    const form = h('form');
    form.addEventListener('submit', event => event.preventDefault());
    this.node.appendChild(form);

    const where = h('div', 'jp-DLBench-formNote', `Notebook: ${options.path}`);
    form.appendChild(where);
    if (options.note) {
      form.appendChild(h('div', 'jp-DLBench-formNote', options.note));
    }

    const params = h('fieldset', 'jp-DLBench-params');
    params.appendChild(h('legend', '', 'Parameters'));
    if (options.parametersError) {
      params.appendChild(h('div', 'jp-DLBench-fieldError', options.parametersError));
    } else if (options.parameters.length === 0) {
      params.appendChild(h('div', 'jp-DLBench-formNote', 'The notebook has no parameters.'));
    }
    for (const param of options.parameters) {
      params.appendChild(this._paramRow(param));
    }
    form.appendChild(params);

    const run = h('fieldset', 'jp-DLBench-target');
    run.appendChild(h('legend', '', 'Run'));
    const executor = h('select', 'jp-mod-styled');
    executor.name = 'executor';
    for (const name of ['local', 'ray']) {
      const option = h('option', '', name);
      option.value = name;
      executor.appendChild(option);
    }
    executor.value = options.settings.defaultExecutor;
    const ray = this._input(
      'ray_address',
      options.settings.rayAddress,
      'auto, or ray://head:10001'
    );
    const rayRow = this._row('Ray address', ray, 'ray_address');
    const showRay = (): void => {
      rayRow.hidden = executor.value !== 'ray';
    };
    executor.addEventListener('change', showRay);
    showRay();
    run.append(
      this._row(
        'Run name',
        this._input('name', options.name ?? '', 'optional; the notebook name when empty'),
        'name'
      ),
      this._row('Executor', executor, 'executor'),
      rayRow,
      this._row(
        'GPUs per run',
        this._input('gpus', String(options.settings.gpusPerRun), '1, 2 or a share like 0.5'),
        'gpus'
      )
    );
    form.appendChild(run);

    const sweep = h('fieldset', 'jp-DLBench-sweep');
    sweep.appendChild(h('legend', '', 'Sweep (optional)'));
    const spec = this._input('sweep', '', 'lr=1e-3,1e-4 batch_size=32,64');
    this._preview = h('div', 'jp-DLBench-sweepPreview', 'No sweep: one run.');
    this._preview.setAttribute('role', 'status');
    spec.addEventListener('input', () => {
      window.clearTimeout(this._previewTimer);
      this._previewTimer = window.setTimeout(() => void this._updatePreview(), 350);
    });
    sweep.append(this._row('Grid', spec, 'sweep'), this._preview);
    form.appendChild(sweep);

    this._error = h('div', 'jp-DLBench-formError');
    this._error.setAttribute('role', 'alert');
    form.appendChild(this._error);
  }

  /** The request to send, or null after marking every invalid field. */
  collect(): IJobRequest | null {
    this.clearErrors();
    let ok = true;
    const params: { [key: string]: unknown } = {};
    for (const param of this._options.parameters) {
      const input = this._fields.get(`param-${param.name}`) as HTMLInputElement;
      const text = input.type === 'checkbox' ? String(input.checked) : input.value;
      const checked = checkParam(param, text);
      if (checked.error !== undefined) {
        this.showFieldError(`param-${param.name}`, checked.error);
        ok = false;
      } else if (text !== this._initial.get(param.name) || this._options.values) {
        // only overrides: the notebook's own defaults stay in its parameters cell
        params[param.name] = checked.value;
      }
    }
    const gpus = checkGpus(this._value('gpus'));
    if (gpus.error !== undefined) {
      this.showFieldError('gpus', gpus.error);
      ok = false;
    }
    if (!ok || gpus.value === undefined) {
      return null;
    }
    const request: IJobRequest = {
      notebook: this._options.path,
      params,
      executor: this._value('executor'),
      gpus: gpus.value
    };
    const optional: [keyof IJobRequest, string][] = [
      ['sweep', this._value('sweep').trim()],
      ['name', this._value('name').trim()],
      ['ray_address', request.executor === 'ray' ? this._value('ray_address').trim() : '']
    ];
    for (const [key, value] of optional) {
      if (value) {
        (request as any)[key] = value;
      }
    }
    return request;
  }

  /** Put a server error next to the field it names, or above the buttons. */
  showServerError(error: unknown): void {
    const message = describeError(error);
    const named = error instanceof APIError ? error.field : null;
    const field = named
      ? named.replace(/^params\./, 'param-')
      : fieldOfMessage(
          message,
          this._options.parameters.map(p => p.name)
        );
    if (field && this._fields.has(field)) {
      this.showFieldError(field, message);
    } else {
      this._error.textContent = message;
    }
  }

  showFieldError(field: string, message: string): void {
    const node = this._errors.get(field);
    const input = this._fields.get(field);
    if (!node || !input) {
      this._error.textContent = message;
      return;
    }
    node.textContent = message;
    input.setAttribute('aria-invalid', 'true');
    input.classList.add('jp-mod-invalid');
  }

  clearErrors(): void {
    this._error.textContent = '';
    for (const field of this._errors.keys()) {
      this._clearField(field);
    }
  }

  private _clearField(field: string): void {
    const error = this._errors.get(field);
    if (error) {
      error.textContent = '';
    }
    this._fields.get(field)?.removeAttribute('aria-invalid');
    this._fields.get(field)?.classList.remove('jp-mod-invalid');
  }

  setBusy(busy: boolean): void {
    this.node.classList.toggle('jp-mod-busy', busy);
    this._error.textContent = busy ? 'Submitting…' : this._error.textContent;
  }

  private async _updatePreview(): Promise<void> {
    const spec = this._value('sweep').trim();
    this._clearField('sweep');
    if (!spec) {
      this._preview.textContent = 'No sweep: one run.';
      return;
    }
    this._preview.textContent = 'Counting runs…';
    try {
      const { count } = await previewSweep({
        notebook: this._options.path,
        sweep: spec,
        params: {}
      });
      if (this._value('sweep').trim() === spec) {
        this._preview.textContent = `Expands to ${count} run${count === 1 ? '' : 's'}.`;
      }
    } catch (error) {
      if (this._value('sweep').trim() !== spec) {
        return;
      }
      if (isMissingEndpoint(error)) {
        this._preview.textContent =
          'This server cannot preview sweeps; it checks the grid on submit.';
      } else {
        this._preview.textContent = '';
        this.showFieldError('sweep', describeError(error));
      }
    }
  }

  private _paramRow(param: INotebookParameter): HTMLElement {
    const given = this._options.values?.[param.name];
    let input: HTMLInputElement;
    if (param.type === 'bool') {
      input = this._input(`param-${param.name}`, '', '');
      input.type = 'checkbox';
      input.checked = given !== undefined ? Boolean(given) : Boolean(param.default);
      this._initial.set(param.name, String(Boolean(param.default)));
    } else {
      const start =
        given === undefined
          ? defaultText(param)
          : typeof given === 'string'
            ? given
            : JSON.stringify(given);
      input = this._input(`param-${param.name}`, start, defaultText(param));
      input.inputMode = param.type === 'int' || param.type === 'float' ? 'decimal' : 'text';
      this._initial.set(param.name, defaultText(param));
    }
    input.dataset.type = param.type;
    const row = this._row(param.name, input, `param-${param.name}`, param.type);
    if (param.help) {
      row.appendChild(h('div', 'jp-DLBench-hint', param.help));
    }
    return row;
  }

  private _input(name: string, value: string, placeholder: string): HTMLInputElement {
    const input = h('input', 'jp-mod-styled');
    input.name = name;
    input.value = value;
    input.placeholder = placeholder;
    input.spellcheck = false;
    return input;
  }

  private _row(
    label: string,
    input: HTMLInputElement | HTMLSelectElement,
    field: string,
    type?: string
  ): HTMLElement {
    const row = h('div', 'jp-DLBench-field');
    row.dataset.field = field;
    const id = `jp-DLBench-${field}-${nextId++}`;
    input.id = id;
    const labelNode = h('label', '', label);
    labelNode.htmlFor = id;
    if (type) {
      labelNode.appendChild(h('span', 'jp-DLBench-type', type));
    }
    const error = h('div', 'jp-DLBench-fieldError');
    error.setAttribute('aria-live', 'polite');
    row.append(labelNode, input, error);
    this._fields.set(field, input);
    this._errors.set(field, error);
    return row;
  }

  private _value(field: string): string {
    return (this._fields.get(field) as HTMLInputElement | undefined)?.value ?? '';
  }

  private _options: IRunFormOptions;
  private _fields = new Map<string, HTMLInputElement | HTMLSelectElement>();
  private _errors = new Map<string, HTMLDivElement>();
  private _initial = new Map<string, string>();
  private _error: HTMLDivElement;
  private _preview: HTMLDivElement;
  private _previewTimer = 0;
}

/** A counter for unique element ids across dialogs. */
let nextId = 0;
