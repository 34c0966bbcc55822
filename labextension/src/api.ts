/**
 * The one client for the jupyter-dlbench server extension (`server_ext/openapi.yaml`).
 * Every request goes through `requestAPI`, so authentication (the XSRF token and the
 * Authorization header that `ServerConnection` adds) and error handling live in one place.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  IDataset,
  IDatasetVersion,
  IJob,
  IJobRequest,
  IMetricHistories,
  INotebookParameter,
  IRunDetail,
  IRunList,
  ISubmitResult
} from './models';

/** The REST root, relative to the server's base URL; matches `routes.py`. */
export const API_ROOT = 'dlbench/api';

/**
 * Call `<baseUrl>/dlbench/api/<path>` and return the decoded JSON body (or the text, when
 * `asText`).
 *
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 * @throws {ServerConnection.ResponseError} on a non-2xx answer, carrying the server's
 *   `message`, or when a 2xx answer is not JSON.
 */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  asText = false
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, API_ROOT, path);
  if (init.body !== undefined) {
    // the server reads JSON bodies only, and says so when the type is missing
    init = { ...init, headers: { 'Content-Type': 'application/json', ...init.headers } };
  }
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  if (!response.ok) {
    throw APIError.from(response, text);
  }
  if (asText) {
    return text as unknown as T;
  }
  if (text.length === 0) {
    return undefined as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new ServerConnection.ResponseError(
      response,
      `The server's answer to ${url} is not JSON: ${String(error)}`
    );
  }
}

/**
 * A non-2xx answer. Our handlers answer `{"message", "code", "field"?}`; `field` names the
 * input the error is about (`gpus`, `params.lr`, `sweep`) so a form can show it there.
 */
export class APIError extends ServerConnection.ResponseError {
  constructor(response: Response, message: string, code: string, field: string | null) {
    super(response, message);
    this.code = code;
    this.field = field;
  }

  /** Build from the answer's body, which may not be ours (the server's HTML 404 page). */
  static from(response: Response, body: string): APIError {
    try {
      const data = JSON.parse(body);
      if (data && typeof data.message === 'string') {
        return new APIError(response, data.message, String(data.code ?? ''), data.field ?? null);
      }
    } catch {
      // not JSON: not one of our errors
    }
    return new APIError(
      response,
      `Invalid response: ${response.status} ${response.statusText}`,
      '',
      null
    );
  }

  readonly code: string;
  readonly field: string | null;
}

/** `?a=1&b=2` from the defined, non-empty entries; '' when none. */
function query(args: { [key: string]: string | number | undefined }): string {
  const kept: { [key: string]: string } = {};
  for (const [key, value] of Object.entries(args)) {
    if (value !== undefined && value !== '') {
      kept[key] = String(value);
    }
  }
  return URLExt.objectToQueryString(kept);
}

const seg = encodeURIComponent;

/** `GET runs`: runs, newest first. `where` is the server's SQL-like filter. */
export function listRuns(options: { where?: string; limit?: number } = {}): Promise<IRunList> {
  return requestAPI<IRunList>('runs' + query(options));
}

export function getRun(runId: string): Promise<IRunDetail> {
  return requestAPI<IRunDetail>(`runs/${seg(runId)}`);
}

/** `GET runs/{id}/metrics`, downsampled by the server to about `points` per metric. */
export function getRunMetrics(runId: string, points?: number): Promise<IMetricHistories> {
  return requestAPI<IMetricHistories>(`runs/${seg(runId)}/metrics` + query({ points }));
}

/** The report's HTML (to check it can be built; the frame loads `reportUrl`). */
export function getRunReport(runId: string): Promise<string> {
  return requestAPI<string>(`runs/${seg(runId)}/report`, {}, true);
}

/**
 * The report for a sandboxed frame's `src`: loading it by URL keeps the server's
 * Content-Security-Policy header in force, which `srcdoc` would drop.
 */
export function reportUrl(runId: string): string {
  return browserUrl(`runs/${seg(runId)}/report`);
}

/**
 * A URL the browser can fetch by itself (a download link, an event stream): it carries
 * the token when the page has one, since such requests cannot set headers.
 */
export function browserUrl(path: string, args: { [key: string]: string } = {}): string {
  const settings = ServerConnection.makeSettings();
  const withToken = settings.token ? { ...args, token: settings.token } : args;
  return URLExt.join(settings.baseUrl, API_ROOT, path) + query(withToken);
}

/** An artifact's bytes as text (an output notebook, a log). */
export function getArtifactText(runId: string, path: string): Promise<string> {
  const encoded = path.split('/').map(seg).join('/');
  return requestAPI<string>(`runs/${seg(runId)}/artifacts/${encoded}`, {}, true);
}

export function artifactUrl(runId: string, path: string): string {
  const encoded = path.split('/').map(seg).join('/');
  return browserUrl(`runs/${seg(runId)}/artifacts/${encoded}`);
}

export async function listJobs(): Promise<IJob[]> {
  const answer = await requestAPI<{ jobs: IJob[] }>('jobs' + query({ limit: 200 }));
  return answer.jobs ?? [];
}

export function getJob(jobId: string): Promise<IJob> {
  return requestAPI<IJob>(`jobs/${seg(jobId)}`);
}

/** `POST jobs`: one job, or a sweep (whose jobs the server may queue over time). */
export async function submitJobs(request: IJobRequest): Promise<ISubmitResult> {
  const answer = await requestAPI<ISubmitResult>('jobs', {
    method: 'POST',
    body: JSON.stringify(request)
  });
  return { jobs: answer.jobs ?? [], sweep_id: answer.sweep_id ?? null };
}

/**
 * `POST runs/{id}/rerun`: the run again from its notebook snapshot (as it ran, not the file
 * as it is now), with its params; `request` overrides params, executor, GPUs.
 */
export async function rerunRun(
  runId: string,
  request: Partial<IJobRequest> = {}
): Promise<ISubmitResult> {
  const answer = await requestAPI<ISubmitResult>(`runs/${seg(runId)}/rerun`, {
    method: 'POST',
    body: JSON.stringify(request)
  });
  return { jobs: answer.jobs ?? [], sweep_id: answer.sweep_id ?? null };
}

export function cancelJob(jobId: string): Promise<unknown> {
  return requestAPI<unknown>(`jobs/${seg(jobId)}`, { method: 'DELETE' });
}

/** The job's log from byte `offset` on, for tailing. */
export function jobLogs(
  jobId: string,
  offset = 0
): Promise<{ text: string; next_offset: number; complete: boolean }> {
  return requestAPI(`jobs/${seg(jobId)}/logs` + query({ offset }));
}

/** The notebook's `parameters` cell; `path` is relative to the server's root. */
export async function notebookParameters(path: string): Promise<INotebookParameter[]> {
  const answer = await requestAPI<{ parameters: INotebookParameter[] }>(
    'notebook-parameters' + query({ path })
  );
  return answer.parameters ?? [];
}

/** How many runs a sweep expands to; the server's parser is the only parser. */
export function previewSweep(
  request: Partial<IJobRequest> & { notebook: string; sweep: string }
): Promise<{ count: number; params: string[]; trials: unknown[] }> {
  return requestAPI('jobs/sweep-preview', { method: 'POST', body: JSON.stringify(request) });
}

export async function listDatasets(): Promise<IDataset[]> {
  return (await requestAPI<{ datasets: IDataset[] }>('datasets')).datasets ?? [];
}

/** A dataset's versions, newest first, each with the runs that used or made it. */
export async function datasetVersions(name: string): Promise<IDatasetVersion[]> {
  const answer = await requestAPI<{ versions: IDatasetVersion[] }>(
    `datasets/${seg(name)}/versions`
  );
  return answer.versions ?? [];
}

/** A one-line, human-readable description of a failed request. */
export function describeError(error: unknown): string {
  if (error instanceof ServerConnection.ResponseError) {
    const status = error.response.status;
    if (status === 404 && error instanceof APIError && error.code === '') {
      return (
        `The DL Bench server extension did not answer (HTTP 404). Is ` +
        `jupyter_dlbench_server enabled? Check "jupyter server extension list".`
      );
    }
    return error.message || `HTTP ${status}`;
  }
  if (error instanceof ServerConnection.NetworkError) {
    return `Cannot reach the Jupyter server: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * True when the server does not have this endpoint (an older server extension, or sweeps
 * not installed): the server's own 404/405 page, or a 501 `not_implemented`.
 */
export function isMissingEndpoint(error: unknown): boolean {
  if (!(error instanceof APIError)) {
    return false;
  }
  const status = error.response.status;
  return status === 501 || ((status === 404 || status === 405) && error.code === '');
}
