-- One row per run with its params and metric summaries as maps, kept up to date by every
-- ingest for the runs it touched, so listing all runs with params and last metric values is a
-- scan of one row per run instead of a pivot of every param and metric row on each query.
CREATE TABLE run_summary (
    run_id VARCHAR,
    param_num MAP(VARCHAR, DOUBLE),
    param_text MAP(VARCHAR, VARCHAR),
    metric_last MAP(VARCHAR, DOUBLE),
    metric_min MAP(VARCHAR, DOUBLE),
    metric_max MAP(VARCHAR, DOUBLE)
);

INSERT INTO run_summary
SELECT r.run_id, p.param_num, p.param_text, m.metric_last, m.metric_min, m.metric_max
FROM run_rows r
LEFT JOIN (
    SELECT run_id, map_from_entries(list((key, value_num))) AS param_num,
           map_from_entries(list((key, value))) AS param_text
    FROM param_rows GROUP BY run_id
) p USING (run_id)
LEFT JOIN (
    SELECT run_id, map_from_entries(list((key, last_value))) AS metric_last,
           map_from_entries(list((key, min_value))) AS metric_min,
           map_from_entries(list((key, max_value))) AS metric_max
    FROM metric_summary GROUP BY run_id
) m USING (run_id);
