/**
 * The one client for the jupyter-dlbench server extension. Every request goes through
 * `requestAPI`, so authentication (the XSRF token and the Authorization header that
 * `ServerConnection` adds) and error handling live in one place.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IRunList } from './models';

/** The REST root, relative to the server's base URL; matches `routes.py`. */
export const API_ROOT = 'dlbench/api';

/**
 * Call `<baseUrl>/dlbench/api/<path>` and return the decoded JSON body.
 *
 * @param path - the part after `dlbench/api/`, with any query string.
 * @param init - fetch options (method, body...); GET when left out.
 * @param settings - server settings; the page's own server when left out.
 * @throws {ServerConnection.NetworkError} when the server cannot be reached.
 * @throws {ServerConnection.ResponseError} on a non-2xx answer, carrying the server's
 *   `message`, or when a 2xx answer is not JSON.
 */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_ROOT, path);
  const response = await ServerConnection.makeRequest(url, init, settings);
  if (!response.ok) {
    // `create` reads the JSON `{"message", ...}` body the server's base handler writes.
    throw await ServerConnection.ResponseError.create(response);
  }
  const text = await response.text();
  if (text.length === 0) {
    // 204 and friends: nothing to decode.
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

/** Options of `listRuns`; each maps to the query argument of the same name. */
export interface IListRunsOptions {
  project?: string;
  where?: string;
  limit?: number;
}

/** `GET /dlbench/api/runs`: runs, newest first. */
export function listRuns(
  options: IListRunsOptions = {},
  settings?: ServerConnection.ISettings
): Promise<IRunList> {
  const query: { [key: string]: string } = {};
  if (options.project) {
    query.project = options.project;
  }
  if (options.where) {
    query.where = options.where;
  }
  if (options.limit !== undefined) {
    query.limit = String(options.limit);
  }
  return requestAPI<IRunList>(
    'runs' + URLExt.objectToQueryString(query),
    {},
    settings
  );
}

/** A one-line, human-readable description of a failed request. */
export function describeError(error: unknown): string {
  if (error instanceof ServerConnection.ResponseError) {
    const status = error.response.status;
    if (status === 404) {
      return (
        `The DL Bench server extension did not answer (HTTP 404). Is ` +
        `jupyter_dlbench_server enabled? Check "jupyter server extension list".`
      );
    }
    return `HTTP ${status}: ${error.message}`;
  }
  if (error instanceof ServerConnection.NetworkError) {
    return `Cannot reach the Jupyter server: ${error.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
