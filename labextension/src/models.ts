/**
 * Shapes of the `/dlbench/api` answers the extension reads, after
 * `server_ext/openapi.yaml` (`RunList`, `RunSummary`). Only the fields the UI uses are
 * listed; the server may send more.
 */

/** One row of `GET /dlbench/api/runs`. */
export interface IRunSummary {
  run_id: string;
  project: string;
  name: string | null;
  /** e.g. running, finished, failed, crashed, cancelled; free text on the wire. */
  status: string;
  /** ISO 8601 in UTC, or null when not known yet. */
  started_at: string | null;
}

/** The answer of `GET /dlbench/api/runs`. */
export interface IRunList {
  runs: IRunSummary[];
  /** How many runs match before `limit`; older servers may leave it out. */
  total?: number;
  /** The workspace folder the server reads. */
  workspace: string;
}
