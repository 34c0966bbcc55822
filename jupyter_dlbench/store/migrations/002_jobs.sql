ALTER TABLE run_rows ADD COLUMN job_id VARCHAR;
ALTER TABLE run_rows ADD COLUMN executor VARCHAR;
ALTER TABLE run_rows ADD COLUMN queued_at DOUBLE;

CREATE OR REPLACE VIEW runs AS
SELECT run_id, project, name, status,
       make_timestamp(CAST(started_at * 1e6 AS BIGINT)) AS started_at,
       make_timestamp(CAST(ended_at * 1e6 AS BIGINT)) AS ended_at,
       ended_at - started_at AS duration_s,
       hostname, pid, username, notebook_path, snapshot_oid, git_commit, git_dirty,
       python_version, cuda_visible_devices, error, output_tail, environment, hardware, tags,
       job_id, executor, make_timestamp(CAST(queued_at * 1e6 AS BIGINT)) AS queued_at,
       started_at - queued_at AS queue_wait_s
FROM run_rows;
