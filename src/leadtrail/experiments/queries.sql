-- Experiments: tests, exposures and the sufficient statistics of each metric per variant.

-- name: insert_test
INSERT INTO a_b_tests (site_id, test_id, test_name, component_id, variants, traffic, targeting,
                       goal, target_conversion, end_date, sample_size, confidence_threshold,
                       auto_complete, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (site_id, test_id) DO NOTHING
RETURNING *;

-- name: get_test
SELECT * FROM a_b_tests WHERE site_id = $1 AND test_id = $2;

-- name: list_tests
SELECT * FROM a_b_tests
WHERE site_id = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY created_at DESC
LIMIT 500;

-- name: active_tests
SELECT * FROM a_b_tests WHERE site_id = $1 AND status = 'active' ORDER BY test_id;

-- name: sites_with_live_tests
SELECT DISTINCT site_id FROM a_b_tests WHERE status IN ('active', 'paused');

-- name: set_status
-- $4: start time when starting for the first time; $5: completion time
UPDATE a_b_tests
SET status = $3,
    start_date = coalesce(start_date, $4),
    completed_at = coalesce($5, completed_at),
    winner_variant = coalesce($6, winner_variant),
    updated_at = $7
WHERE site_id = $1 AND test_id = $2 AND status = $8
RETURNING *;

-- name: mark_synced
UPDATE a_b_tests SET exposures_synced_at = $3 WHERE site_id = $1 AND test_id = $2;

-- name: sync_exposures
-- Copies the first exposure event of each session to a test into variant_assignments.
-- $3: events from this time on (the caller rewinds by the tracker's replay window).
INSERT INTO variant_assignments (site_id, test_id, session_id, session_month, unit, variant,
                                 assigned_at)
SELECT DISTINCT ON (e.session_id)
       e.site_id, t.test_id, e.session_id, e.session_month,
       left(coalesce(e.metadata ->> 'xu', e.metadata ->> 'fp', e.session_id::text), 200),
       e.metadata ->> 'xv', e.created_at
FROM events e
JOIN a_b_tests t ON t.site_id = e.site_id AND t.test_id = $2
WHERE e.site_id = $1
  AND e.event_category = 'system' AND e.event_action = 'experiment_exposure'
  AND e.event_label = $2
  AND e.created_at >= $3
  AND t.start_date IS NOT NULL AND e.created_at >= t.start_date
  AND (t.completed_at IS NULL OR e.created_at <= t.completed_at)
  AND t.variants @> jsonb_build_array(jsonb_build_object('name', e.metadata ->> 'xv'))
ORDER BY e.session_id, e.created_at
ON CONFLICT (site_id, test_id, session_id) DO NOTHING;

-- name: record_exposure
INSERT INTO variant_assignments (site_id, test_id, session_id, session_month, unit, variant,
                                 assigned_at, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (site_id, test_id, session_id) DO NOTHING;

-- name: person_variant
-- The variant a known person first saw in this test (on any device).
SELECT va.variant
FROM variant_assignments va
JOIN sessions s ON s.site_id = va.site_id AND s.id = va.session_id
WHERE va.site_id = $1 AND va.test_id = $2 AND s.canonical_user_id = $3
ORDER BY va.assigned_at
LIMIT 1;

-- name: session_context
SELECT id, created_month, canonical_user_id, fingerprint, device_type FROM sessions
WHERE site_id = $1 AND id = $2;

-- name: planner_for_aggregates
SET LOCAL enable_nestloop = off;

-- name: metric_template
-- Per-variant sums of one metric per unit. The GOAL marker below is replaced by one goal's per-session
-- fragment (below, constant text): it yields (session_id, value) for exposed sessions.
-- $1 site, $2 test key, $3/$4 the goal's two text parameters, $5 the test's start (the
-- covariate's pre-period is the 30 days before it), $6 the per-unit aggregate
-- ('any' | 'sum' | 'avg').
WITH params AS (SELECT $3::text AS p1, $4::text AS p2),
exposed AS (
    SELECT unit, variant, session_id, session_month, assigned_at
    FROM variant_assignments
    WHERE site_id = $1 AND test_id = $2
),
first_variant AS (
    SELECT DISTINCT ON (unit) unit, variant
    FROM exposed
    ORDER BY unit, assigned_at
),
-- MATERIALIZED: computed once; inlined, a planner without statistics on fresh rows
-- re-ran it for every exposed session
per_session AS MATERIALIZED (
    /*GOAL*/
),
per_unit AS (
    SELECT x.unit, f.variant,
           CASE $6::text
               WHEN 'any' THEN (coalesce(sum(ps.value), 0) > 0)::int::float8
               WHEN 'avg' THEN coalesce(avg(coalesce(ps.value, 0)), 0)::float8
               ELSE coalesce(sum(ps.value), 0)::float8
           END AS y
    FROM exposed x
    JOIN first_variant f ON f.unit = x.unit AND f.variant = x.variant
    LEFT JOIN per_session ps ON ps.session_id = x.session_id
    GROUP BY x.unit, f.variant
),
pre AS (
    SELECT s.fingerprint AS unit, sum(s.page_views)::float8 AS x
    FROM sessions s
    WHERE s.site_id = $1
      AND s.fingerprint IN (SELECT unit FROM first_variant)
      AND s.created_at >= $5::timestamptz - interval '30 days' AND s.created_at < $5::timestamptz
    GROUP BY s.fingerprint
)
SELECT u.variant,
       count(*) AS n,
       coalesce(sum(u.y), 0) AS total,
       coalesce(sum(u.y * u.y), 0) AS total_sq,
       coalesce(sum(coalesce(p.x, 0)), 0) AS pre,
       coalesce(sum(coalesce(p.x, 0) ^ 2), 0) AS pre_sq,
       coalesce(sum(coalesce(p.x, 0) * u.y), 0) AS cross_sum
FROM per_unit u
LEFT JOIN pre p ON p.unit = u.unit
GROUP BY u.variant;

-- name: goal_event
SELECT e.session_id, count(*)::float8 AS value
FROM events e
JOIN exposed x ON x.session_id = e.session_id AND x.session_month = e.session_month
WHERE e.site_id = $1
  AND e.event_category = (SELECT p1 FROM params) AND e.event_action = (SELECT p2 FROM params)
  AND e.created_at >= x.assigned_at
GROUP BY e.session_id

-- name: goal_form_lead
SELECT l.session_id, count(*)::float8 AS value
FROM leads l
JOIN exposed x ON x.session_id = l.session_id
WHERE l.site_id = $1 AND l.submitted_at >= x.assigned_at
GROUP BY l.session_id

-- name: goal_call
SELECT c.matched_session_id AS session_id, count(*)::float8 AS value
FROM calls c
JOIN exposed x ON x.session_id = c.matched_session_id
WHERE c.site_id = $1 AND c.created_at >= x.assigned_at
GROUP BY c.matched_session_id

-- name: goal_qualified_call
SELECT c.matched_session_id AS session_id, count(*)::float8 AS value
FROM calls c
JOIN exposed x ON x.session_id = c.matched_session_id
WHERE c.site_id = $1 AND c.created_at >= x.assigned_at AND c.status = 'qualified'
GROUP BY c.matched_session_id

-- name: goal_lead_value
-- Revenue: the value of form leads and of qualified calls after exposure.
SELECT v.session_id, sum(v.value)::float8 AS value
FROM (
    SELECT l.session_id, coalesce(l.value, 0) AS value
    FROM leads l JOIN exposed x ON x.session_id = l.session_id
    WHERE l.site_id = $1 AND l.submitted_at >= x.assigned_at AND coalesce(l.status, '') <> 'junk'
    UNION ALL
    SELECT c.matched_session_id, coalesce(c.value, 0)
    FROM calls c JOIN exposed x ON x.session_id = c.matched_session_id
    WHERE c.site_id = $1 AND c.created_at >= x.assigned_at AND c.status = 'qualified'
) v
GROUP BY v.session_id

-- name: guard_bounce
SELECT s.id AS session_id, s.is_bounce::int::float8 AS value
FROM sessions s
JOIN exposed x ON x.session_id = s.id AND x.session_month = s.created_month
WHERE s.site_id = $1

-- name: assignment_counts
SELECT variant, count(DISTINCT unit) AS units, count(*) AS sessions
FROM variant_assignments
WHERE site_id = $1 AND test_id = $2
GROUP BY variant;
