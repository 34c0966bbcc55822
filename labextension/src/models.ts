/**
 * Shapes of the `/dlbench/api` answers the extension reads, after `server_ext/openapi.yaml`.
 * Only the fields the UI uses are listed; the server may send more, and fields marked
 * optional may be missing on older servers.
 */

/** A float as the server sends it: NaN and infinities as strings, absent as null. */
export type FloatValue = number | 'NaN' | 'Infinity' | '-Infinity' | null;

/** One row of `GET runs`. */
export interface IRunSummary {
  run_id: string;
  project: string;
  name: string | null;
  /** e.g. running, finished, failed, crashed, cancelled; free text on the wire. */
  status: string;
  started_at: string | null;
  ended_at?: string | null;
  duration_s?: number | null;
  params?: { [key: string]: unknown };
  /** Last value of each metric. */
  metrics?: { [key: string]: FloatValue };
}

/** The answer of `GET runs`. */
export interface IRunList {
  runs: IRunSummary[];
  total?: number;
  workspace: string;
}

export interface IMetricSummary {
  last: FloatValue;
  last_step: number | null;
  min: FloatValue;
  max: FloatValue;
  count: number;
}

export interface IArtifact {
  path: string;
  oid: string;
  size: number | null;
}

/** `GET runs/{id}`: everything recorded about a run. */
export interface IRunDetail extends Omit<IRunSummary, 'metrics'> {
  executor?: string | null;
  notebook_path?: string | null;
  error?: string | null;
  output_tail?: string | null;
  cuda_visible_devices?: string | null;
  hostname?: string | null;
  git_commit?: string | null;
  tags?: string[] | null;
  metrics: { [key: string]: IMetricSummary };
  artifacts: IArtifact[];
  /** Lineage, when the server reports it: dataset versions read, artifacts written. */
  inputs?: unknown[] | null;
  outputs?: unknown[] | null;
  job_id?: string | null;
}

export interface IMetricHistory {
  steps: (number | null)[];
  values: FloatValue[];
  wall_time: (number | null)[];
}

/** `GET runs/{id}/metrics`. */
export interface IMetricHistories {
  run_id: string;
  metrics: { [key: string]: IMetricHistory };
}

/** One job of `GET jobs` / `POST jobs` (`Job` in the OpenAPI file). */
export interface IJob {
  job_id: string;
  /** queued, starting, running, finished, failed, cancelled, lost. */
  status: string;
  /** The notebook's absolute path on the server. */
  notebook: string;
  /** The notebook relative to the server root; null when it is outside. */
  notebook_path?: string | null;
  params: { [key: string]: unknown };
  executor: string;
  gpus: number;
  gpu_ids?: string[];
  run_id?: string | null;
  name?: string | null;
  error?: string | null;
  failed_cell?: number | null;
  sweep_id?: string | null;
  ray_address?: string | null;
  cancel_requested?: boolean;
  /** ISO 8601 timestamps, or null. */
  submitted_at?: string | null;
  started_at?: string | null;
  ended_at?: string | null;
}

/** One `name = default` line of a notebook's `parameters` cell. */
export interface INotebookParameter {
  name: string;
  /** int, float, str, bool, list, dict, none, other. */
  type: string;
  default: unknown;
  /** The default exactly as written in the cell. */
  source?: string;
  /** The line's trailing comment. */
  help?: string | null;
}

/** The answer of `POST jobs`: one job, or the sweep's jobs queued so far. */
export interface ISubmitResult {
  jobs: IJob[];
  sweep_id: string | null;
}

/** What the Run on GPU dialog sends to `POST jobs`. */
export interface IJobRequest {
  notebook: string;
  params: { [key: string]: unknown };
  executor: string;
  gpus: number;
  sweep?: string;
  ray_address?: string;
  name?: string;
}

/** One row of `GET datasets` (`DatasetSummary`). */
export interface IDataset {
  name: string;
  /** How many versions it has. */
  versions: number;
  /** The newest version, `v3`. */
  latest: string | null;
  file_count: number | null;
  total_bytes: number | null;
  updated_at?: string | null;
}

/** A run that read (`input`) or made (`output`) a dataset version. */
export interface IDatasetUse {
  run_id: string;
  direction: string;
  run_name: string | null;
  status: string | null;
}

/** One version of `GET datasets/{name}/versions` (`DatasetVersion`). */
export interface IDatasetVersion {
  version: string;
  parent: string | null;
  message: string;
  file_count: number;
  total_bytes: number;
  created_at: string | null;
  producer_run_id: string | null;
  used_by: IDatasetUse[];
}
