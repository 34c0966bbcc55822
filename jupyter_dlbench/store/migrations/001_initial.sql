CREATE TABLE run_rows (
    run_id VARCHAR PRIMARY KEY,
    project VARCHAR,
    name VARCHAR,
    status VARCHAR,
    started_at DOUBLE,
    ended_at DOUBLE,
    closed BOOLEAN,
    last_seen DOUBLE,
    hostname VARCHAR,
    pid BIGINT,
    username VARCHAR,
    notebook_path VARCHAR,
    snapshot_oid VARCHAR,
    git_commit VARCHAR,
    git_dirty BOOLEAN,
    git_diff_oid VARCHAR,
    python_version VARCHAR,
    cuda_visible_devices VARCHAR,
    error VARCHAR,
    output_tail VARCHAR,
    environment JSON,
    hardware JSON,
    tags JSON
);

CREATE TABLE param_rows (
    run_id VARCHAR,
    key VARCHAR,
    value VARCHAR,
    value_num DOUBLE,
    value_type VARCHAR,
    source VARCHAR,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE metric_rows (
    run_id VARCHAR,
    key VARCHAR,
    step BIGINT,
    value DOUBLE,
    ts DOUBLE
);

CREATE TABLE metric_summary (
    run_id VARCHAR,
    key VARCHAR,
    last_step BIGINT,
    last_value DOUBLE,
    min_value DOUBLE,
    max_value DOUBLE,
    n BIGINT,
    last_ts DOUBLE,
    PRIMARY KEY (run_id, key)
);

CREATE TABLE artifact_rows (
    run_id VARCHAR,
    path VARCHAR,
    oid VARCHAR,
    size BIGINT,
    kind VARCHAR,
    ts DOUBLE,
    PRIMARY KEY (run_id, path)
);

CREATE TABLE journal_state (
    run_id VARCHAR PRIMARY KEY,
    offset_bytes BIGINT,
    records BIGINT,
    dropped_bytes BIGINT
);

CREATE VIEW runs AS
SELECT run_id, project, name, status,
       make_timestamp(CAST(started_at * 1e6 AS BIGINT)) AS started_at,
       make_timestamp(CAST(ended_at * 1e6 AS BIGINT)) AS ended_at,
       ended_at - started_at AS duration_s,
       hostname, pid, username, notebook_path, snapshot_oid, git_commit, git_dirty,
       python_version, cuda_visible_devices, error, output_tail, environment, hardware, tags
FROM run_rows;

CREATE VIEW params AS
SELECT run_id, key, value, value_num, value_type, source FROM param_rows;

CREATE VIEW metrics AS
SELECT run_id, key, step, value, make_timestamp(CAST(ts * 1e6 AS BIGINT)) AS ts FROM metric_rows;

CREATE VIEW artifacts AS
SELECT run_id, path, oid, size, kind, make_timestamp(CAST(ts * 1e6 AS BIGINT)) AS logged_at
FROM artifact_rows;
