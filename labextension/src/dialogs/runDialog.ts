/**
 * The Run on GPU dialog: saves the notebook if it has unsaved changes, reads its
 * parameters cell from the server, and submits `POST jobs`. It stays open on a 400 so
 * the server's message can be read next to the field it is about.
 */

import { Dialog, Notification } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';

import { describeError, isMissingEndpoint, notebookParameters, submitJobs } from '../api';
import { INotebookParameter, ISubmitResult } from '../models';
import { IDLBenchSettings } from '../settings';
import { RunForm } from './form';

export interface IRunDialogOptions {
  /** Notebook path relative to the server root. */
  path: string;
  settings: IDLBenchSettings;
  /** The open notebook, saved first when it has unsaved changes. */
  context?: DocumentRegistry.Context;
  values?: { [key: string]: unknown };
  /** The run name to start with (a rerun keeps its name). */
  name?: string;
  title?: string;
}

/** A dialog whose Submit button waits for the server before closing. */
class RunDialog extends Dialog<ISubmitResult | null> {
  constructor(form: RunForm, title: string) {
    super({
      title,
      body: form,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: 'Submit', className: 'jp-DLBench-submit' })
      ],
      focusNodeSelector: 'input',
      hasClose: true
    });
    this.addClass('jp-DLBench-runDialog');
    this._form = form;
  }

  /** Accepting validates and submits; the dialog closes only when the jobs exist. */
  resolve(index?: number): void {
    const accept = index === undefined || index === 1;
    if (!accept || this._submitting) {
      if (!accept) {
        super.resolve(index);
      }
      return;
    }
    const request = this._form.collect();
    if (!request) {
      return;
    }
    this._submitting = true;
    this._form.setBusy(true);
    submitJobs(request)
      .then(result => {
        this._result = result;
        super.resolve(1);
      })
      .catch(error => {
        this._form.setBusy(false);
        this._form.clearErrors();
        this._form.showServerError(error);
      })
      .finally(() => {
        this._submitting = false;
      });
  }

  get result(): ISubmitResult | null {
    return this._result;
  }

  private _form: RunForm;
  private _submitting = false;
  private _result: ISubmitResult | null = null;
}

/** `Submitted job job-…`, or `Started sweep … (2 jobs queued)` for people. */
export function describeSubmission(result: ISubmitResult): string {
  if (result.sweep_id) {
    const n = result.jobs.length;
    return `Started sweep ${result.sweep_id} (${n} job${n === 1 ? '' : 's'} queued so far)`;
  }
  return `Submitted job ${result.jobs[0]?.job_id ?? ''}`;
}

/** Open the dialog; resolves with what was submitted, or null when cancelled. */
export async function openRunDialog(options: IRunDialogOptions): Promise<ISubmitResult | null> {
  let note: string | undefined;
  if (options.context?.model.dirty) {
    // the job runs the file on disk: save first so it runs what the user sees
    await options.context.save();
    note = 'Your unsaved changes were saved first: the job runs the notebook as saved.';
  }
  let parameters: INotebookParameter[] = [];
  let parametersError: string | undefined;
  try {
    parameters = await notebookParameters(options.path);
  } catch (error) {
    parametersError = isMissingEndpoint(error)
      ? 'This server cannot read notebook parameters; the notebook runs with its defaults.'
      : describeError(error);
  }
  const form = new RunForm({
    path: options.path,
    parameters,
    parametersError,
    values: options.values,
    name: options.name,
    settings: options.settings,
    note
  });
  const dialog = new RunDialog(form, options.title ?? 'Run on GPU');
  const result = await dialog.launch();
  const submitted = result.button.accept ? dialog.result : null;
  dialog.dispose();
  if (submitted) {
    Notification.success(describeSubmission(submitted), { autoClose: 4000 });
  }
  return submitted;
}
