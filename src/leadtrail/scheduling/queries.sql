-- Leases, the scheduler's bookkeeping and its canary job. See 0035_operations.sql.

-- name: acquire
SELECT leadtrail.lease_acquire($1, $2, $3)

-- name: release
SELECT leadtrail.lease_release($1, $2, $3)

-- name: check
SELECT leadtrail.lease_check($1, $2)

-- name: lease_info
SELECT name, holder, token, acquired_at, expires_at, expires_at > clock_timestamp() AS live
FROM leadtrail.leases ORDER BY name

-- name: job_periods
SELECT job, last_period FROM leadtrail.scheduler_jobs

-- name: finish
-- Mark a period done (inside the fenced transaction of the run or right after it).
INSERT INTO leadtrail.scheduler_jobs AS j (job, interval_seconds, last_period, last_token,
                                           last_node, last_started_at, last_finished_at,
                                           last_duration_ms, runs)
VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp(), $7, 1)
ON CONFLICT (job) DO UPDATE SET
    interval_seconds = EXCLUDED.interval_seconds,
    last_period = EXCLUDED.last_period,
    last_token = EXCLUDED.last_token,
    last_node = EXCLUDED.last_node,
    last_started_at = EXCLUDED.last_started_at,
    last_finished_at = EXCLUDED.last_finished_at,
    last_duration_ms = EXCLUDED.last_duration_ms,
    runs = j.runs + 1
WHERE j.last_period IS NULL OR j.last_period < EXCLUDED.last_period
RETURNING job

-- name: failed
INSERT INTO leadtrail.scheduler_jobs AS j (job, interval_seconds, failures, last_error, last_error_at)
VALUES ($1, $2, 1, $3, clock_timestamp())
ON CONFLICT (job) DO UPDATE SET
    failures = j.failures + 1, last_error = EXCLUDED.last_error,
    last_error_at = EXCLUDED.last_error_at

-- name: jobs
SELECT job, interval_seconds, last_period, last_token, last_node, last_started_at,
       last_finished_at, last_duration_ms, runs, failures, last_error, last_error_at
FROM leadtrail.scheduler_jobs ORDER BY job

-- name: probe
-- The canary: a fenced row per period, held open for a moment so that overlapping runs on
-- two nodes would show as overlapping intervals.
INSERT INTO leadtrail.scheduler_probe (period, token, node, started_at, finished_at)
VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp())

-- name: probe_finish
UPDATE leadtrail.scheduler_probe SET finished_at = clock_timestamp() WHERE period = $1
