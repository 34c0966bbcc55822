-- Dataset versions. A version's manifest (path -> object) is itself an object; the rows here
-- index it: dataset_file_rows repeats each manifest's entries once per distinct manifest so that
-- diff, verify, gc and lineage are plain SQL.
CREATE TABLE dataset_rows (
    name VARCHAR PRIMARY KEY,
    created_at DOUBLE
);

CREATE TABLE dataset_version_rows (
    name VARCHAR,
    version VARCHAR,
    number INTEGER,
    manifest_oid VARCHAR,
    parent VARCHAR,
    message VARCHAR,
    file_count BIGINT,
    total_bytes BIGINT,
    created_at DOUBLE,
    producer_run_id VARCHAR,
    metadata JSON,
    PRIMARY KEY (name, number)
);

CREATE TABLE dataset_file_rows (
    manifest_oid VARCHAR,
    path VARCHAR,
    oid VARCHAR,
    size BIGINT,
    executable BOOLEAN,
    symlink VARCHAR
);

CREATE TABLE run_dataset_rows (
    run_id VARCHAR,
    name VARCHAR,
    version VARCHAR,
    direction VARCHAR,
    ts DOUBLE,
    PRIMARY KEY (run_id, name, version, direction)
);

CREATE VIEW dataset_versions AS
SELECT name, version, number, manifest_oid, parent, message, file_count, total_bytes,
       make_timestamp(CAST(created_at * 1e6 AS BIGINT)) AS created_at, producer_run_id, metadata
FROM dataset_version_rows;

CREATE VIEW datasets AS
SELECT d.name, make_timestamp(CAST(d.created_at * 1e6 AS BIGINT)) AS created_at,
       count(v.number) AS versions, 'v' || max(v.number) AS latest,
       arg_max(v.file_count, v.number) AS file_count, arg_max(v.total_bytes, v.number) AS total_bytes,
       make_timestamp(CAST(max(v.created_at) * 1e6 AS BIGINT)) AS updated_at
FROM dataset_rows d LEFT JOIN dataset_version_rows v USING (name)
GROUP BY d.name, d.created_at;

CREATE VIEW dataset_files AS
SELECT v.name, v.version, f.path, f.oid, f.size, f.executable, f.symlink
FROM dataset_version_rows v JOIN dataset_file_rows f USING (manifest_oid);

CREATE VIEW run_datasets AS
SELECT run_id, name, version, direction, make_timestamp(CAST(ts * 1e6 AS BIGINT)) AS ts
FROM run_dataset_rows;
