/**
 * The Run on GPU button in every notebook's toolbar, and the helpers that turn a run back
 * into a job (Rerun, Rerun with changes).
 */

import { ToolbarButton } from '@jupyterlab/apputils';
import { DocumentRegistry, DocumentWidget } from '@jupyterlab/docregistry';
import { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { getJob, rerunRun } from './api';
import { openRunDialog } from './dialogs/runDialog';
import { dlbenchIcon } from './icon';
import { IJob, IJobRequest, IRunDetail, ISubmitResult } from './models';
import { IDLBenchSettings } from './settings';

/** The notebook document in `widget`, if it is one. */
export function asNotebook(widget: Widget | null): DocumentWidget | null {
  if (widget instanceof DocumentWidget && widget.context.path.endsWith('.ipynb')) {
    return widget;
  }
  return null;
}

/** The path the REST API wants: relative to the server root, without a drive prefix. */
export function serverPath(context: DocumentRegistry.Context): string {
  return context.localPath || context.path;
}

export class RunOnGpuExtension
  implements DocumentRegistry.IWidgetExtension<DocumentWidget, DocumentRegistry.IModel>
{
  constructor(run: (panel: DocumentWidget) => void) {
    this._run = run;
  }

  createNew(panel: DocumentWidget): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-DLBench-runOnGpu',
      icon: dlbenchIcon,
      label: 'Run on GPU',
      tooltip: 'Run this notebook as a tracked job on a GPU (DL Bench)',
      onClick: () => this._run(panel)
    });
    if (!panel.toolbar.insertAfter('cellType', 'dlbench-run-on-gpu', button)) {
      panel.toolbar.addItem('dlbench-run-on-gpu', button);
    }
    return button;
  }

  private _run: (panel: DocumentWidget) => void;
}

/** The job that produced a run, which holds the notebook path and every param it used. */
async function jobOf(detail: IRunDetail): Promise<IJob & { notebook_path: string }> {
  if (!detail.job_id) {
    throw new Error(
      `Run ${detail.run_id} was not started as a job (it ran inside a notebook or from ` +
        `papermill), so there is no job to submit again. Run its notebook, or use ` +
        `"dlbench rerun ${detail.run_id}" in a terminal.`
    );
  }
  const job = await getJob(detail.job_id);
  if (!job.notebook_path) {
    throw new Error(
      `The notebook of run ${detail.run_id} (${job.notebook}) is outside this server's root, ` +
        `so it cannot be submitted from here. Use "dlbench rerun ${detail.run_id}" in a terminal.`
    );
  }
  return job as IJob & { notebook_path: string };
}

/**
 * Run it again as it ran: the server reruns the stored notebook snapshot with the run's
 * params; a job's executor and GPUs are kept. Works for runs not started as jobs too.
 */
export async function rerun(detail: IRunDetail): Promise<ISubmitResult> {
  const request: Partial<IJobRequest> = {};
  if (detail.job_id) {
    const job = await getJob(detail.job_id);
    request.executor = job.executor;
    request.gpus = job.gpus;
    if (job.ray_address) {
      request.ray_address = job.ray_address;
    }
  }
  return rerunRun(detail.run_id, request);
}

/** The Run on GPU dialog pre-filled with the run's params, executor and GPUs. */
export async function rerunWithChanges(
  detail: IRunDetail,
  settings: IDLBenchSettings
): Promise<ISubmitResult | null> {
  const job = await jobOf(detail);
  return openRunDialog({
    path: job.notebook_path,
    values: job.params,
    name: job.name ?? undefined,
    title: `Rerun ${detail.name || detail.run_id} with changes`,
    settings: {
      ...settings,
      defaultExecutor: job.executor,
      gpusPerRun: job.gpus > 0 ? job.gpus : settings.gpusPerRun,
      rayAddress: job.ray_address ?? settings.rayAddress
    }
  });
}
