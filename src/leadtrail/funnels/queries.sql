-- Funnels: definitions (admin), the funnel job (writer, one site) and reports (analyst).

-- name: list_funnels
SELECT id, name, steps, window_seconds, order_mode, count_by, created_at, updated_at
FROM funnels WHERE site_id = $1 ORDER BY name

-- name: get_funnel
SELECT id, name, steps, window_seconds, order_mode, count_by, created_at, updated_at
FROM funnels WHERE site_id = $1 AND id = $2

-- name: insert_funnel
INSERT INTO funnels (site_id, name, steps, window_seconds, order_mode, count_by)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (site_id, name) DO NOTHING
RETURNING id

-- name: update_funnel
UPDATE funnels SET name = $3, steps = $4, window_seconds = $5, order_mode = $6, count_by = $7,
                   updated_at = now()
WHERE site_id = $1 AND id = $2
RETURNING id

-- name: delete_funnel
DELETE FROM funnels WHERE site_id = $1 AND id = $2 RETURNING id

-- name: delete_funnel_rows
-- A funnel's rows and its per-day counts (deleted, or about to be rebuilt).
WITH a AS (DELETE FROM funnel_step_daily WHERE site_id = $1 AND funnel_id = $2),
     b AS (DELETE FROM funnel_duration_daily WHERE site_id = $1 AND funnel_id = $2)
DELETE FROM conversion_funnels WHERE site_id = $1 AND funnel_id = $2

-- name: funnel_lock
-- One writer of a funnel's rows at a time (the per-day counts are adjusted by deltas).
SELECT pg_advisory_xact_lock(hashtext('leadtrail.funnels'), hashtext($1::text))

-- name: name_taken
SELECT 1 FROM funnels WHERE site_id = $1 AND name = $2 AND id <> $3

-- name: changed_sessions
-- Sessions of one site seen in [$2, $3) (the index on last_seen_at), with what the
-- reports break down by.
SELECT id, created_month, created_at, last_seen_at, exit_reason, canonical_user_id, fingerprint,
       coalesce(device_type, '') AS device, coalesce(utm_campaign, '') AS campaign,
       CASE WHEN coalesce(gclid, wbraid, gbraid, msclkid) IS NOT NULL THEN 'paid_search'
            WHEN fbclid IS NOT NULL THEN 'paid_social'
            WHEN lower(coalesce(utm_medium, '')) = 'email' THEN 'email'
            ELSE coalesce(nullif(referrer_type, ''), 'direct') END AS channel
FROM sessions
WHERE site_id = $1 AND last_seen_at >= $2 AND last_seen_at < $3

-- name: sessions_started
-- The same for sessions that started in [$2, $3).
SELECT id, created_month, created_at, last_seen_at, exit_reason, canonical_user_id, fingerprint,
       coalesce(device_type, '') AS device, coalesce(utm_campaign, '') AS campaign,
       CASE WHEN coalesce(gclid, wbraid, gbraid, msclkid) IS NOT NULL THEN 'paid_search'
            WHEN fbclid IS NOT NULL THEN 'paid_social'
            WHEN lower(coalesce(utm_medium, '')) = 'email' THEN 'email'
            ELSE coalesce(nullif(referrer_type, ''), 'direct') END AS channel
FROM sessions
WHERE site_id = $1 AND created_at >= $2 AND created_at < $3

-- name: person_sessions
-- Every session of the people (canonical user, else fingerprint) given.
SELECT id, created_month, created_at, last_seen_at, exit_reason, canonical_user_id, fingerprint,
       '' AS device, '' AS campaign, '' AS channel
FROM sessions
WHERE site_id = $1 AND (canonical_user_id = ANY ($2::uuid[]) OR fingerprint = ANY ($3::text[]))

-- name: session_touches
-- What steps can match, for the sessions given, in time order.
SELECT session_id, created_at AS at, 'event' AS kind, leadtrail.url_path(url) AS path,
       event_category AS category, event_action AS action, coalesce(event_label, '') AS label
FROM events WHERE site_id = $1 AND session_id = ANY ($2::uuid[])
  AND event_category <> 'system'
UNION ALL
SELECT session_id, submitted_at, 'lead', '', '', '', '' FROM leads
WHERE site_id = $1 AND session_id = ANY ($2::uuid[])
UNION ALL
SELECT matched_session_id, created_at, 'call', '', '', '', '' FROM calls
WHERE site_id = $1 AND matched_session_id = ANY ($2::uuid[])
ORDER BY 2

-- name: session_friction
-- The friction events of these sessions (drop-off reasons).
SELECT session_id, created_at, event_type FROM behavior_events
WHERE site_id = $1 AND session_id = ANY ($2::uuid[])
  AND event_type IN ('rage_click', 'dead_click', 'hesitation', 'form_abandon', 'error',
                     'quick_back', 'excessive_scroll')
ORDER BY created_at

-- name: replace_rows_delete
-- The rows of sessions $3 go, and their counts leave the per-day tables (one statement).
WITH gone AS (
    DELETE FROM conversion_funnels
    WHERE site_id = $1 AND funnel_id = $2 AND session_id = ANY ($3::uuid[])
    RETURNING session_started, step_order, dropoff_reason, duration_seconds, metadata
), steps AS (
    INSERT INTO funnel_step_daily AS t
    SELECT $1, $2, (session_started AT TIME ZONE 'UTC')::date, step_order,
           coalesce(dropoff_reason, ''), coalesce(metadata ->> 'channel', ''),
           coalesce(metadata ->> 'device', ''), coalesce(metadata ->> 'campaign', ''), -count(*)
    FROM gone GROUP BY 3, 4, 5, 6, 7, 8
    ON CONFLICT (site_id, funnel_id, day, step_order, reason, channel, device, campaign)
    DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions
)
INSERT INTO funnel_duration_daily AS t
SELECT $1, $2, (session_started AT TIME ZONE 'UTC')::date, step_order, duration_seconds, -count(*)
FROM gone WHERE dropoff_reason IS NULL AND duration_seconds IS NOT NULL
GROUP BY 3, 4, 5
ON CONFLICT (site_id, funnel_id, day, step_order, seconds)
DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions

-- name: funnel_progress
SELECT scanned_to FROM leadtrail.funnel_progress WHERE site_id = $1

-- name: save_progress
INSERT INTO leadtrail.funnel_progress (site_id, scanned_to) VALUES ($1, $2)
ON CONFLICT (site_id) DO UPDATE SET scanned_to = EXCLUDED.scanned_to

-- name: funnel_sites
SELECT DISTINCT site_id FROM funnels

-- name: report_steps
-- Per step and drop-off reason (NULL: went on, or the last step) of a funnel counted per
-- session, over sessions started in [$3, $4): one scan for entered, reasons and the median
-- time to the next step (duration_seconds of the rows that went on).
SELECT step_order, dropoff_reason AS reason, count(*) AS sessions,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_seconds)
           FILTER (WHERE dropoff_reason IS NULL) AS median_seconds
FROM conversion_funnels
WHERE site_id = $1 AND funnel_id = $2 AND session_started >= $3 AND session_started < $4
GROUP BY step_order, dropoff_reason

-- name: daily_steps
-- The report from the per-day counts: days [$3, $4) by step and drop-off reason ('' = none).
SELECT step_order, reason, sum(sessions)::bigint AS sessions
FROM funnel_step_daily
WHERE site_id = $1 AND funnel_id = $2 AND day >= $3 AND day < $4
GROUP BY step_order, reason

-- name: daily_durations
-- Seconds to the next step, with how many rows took that long (the median, exactly).
SELECT step_order, seconds, sum(sessions)::bigint AS sessions
FROM funnel_duration_daily
WHERE site_id = $1 AND funnel_id = $2 AND day >= $3 AND day < $4
GROUP BY step_order, seconds
HAVING sum(sessions) <> 0
ORDER BY step_order, seconds

-- name: daily_breakdown
SELECT CASE $5 WHEN 'channel' THEN channel WHEN 'device' THEN device ELSE campaign END AS value,
       step_order, sum(sessions)::bigint AS entered
FROM funnel_step_daily
WHERE site_id = $1 AND funnel_id = $2 AND day >= $3 AND day < $4
GROUP BY 1, 2
HAVING sum(sessions) <> 0
ORDER BY 1, 2

-- name: report_breakdown
SELECT metadata ->> $5 AS value, step_order, count(*) AS entered
FROM conversion_funnels
WHERE site_id = $1 AND funnel_id = $2 AND session_started >= $3 AND session_started < $4
GROUP BY 1, 2 ORDER BY 1, 2

-- name: insert_rows
-- The new rows, and their counts added to the per-day tables (one statement).
WITH new AS (
    INSERT INTO conversion_funnels (site_id, funnel_id, session_id, step_order, funnel_name,
        step_name, session_started, entered_at, exited_at, duration_seconds, dropoff_reason, metadata)
    SELECT $1, $2, session_id, step_order, $3, step_name, session_started, entered_at, exited_at,
           duration_seconds, dropoff_reason, metadata
    FROM unnest($4::uuid[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[],
                $9::timestamptz[], $10::int[], $11::text[], $12::jsonb[])
      AS r (session_id, step_order, step_name, session_started, entered_at, exited_at,
            duration_seconds, dropoff_reason, metadata)
    RETURNING session_started, step_order, dropoff_reason, duration_seconds, metadata
), steps AS (
    INSERT INTO funnel_step_daily AS t
    SELECT $1, $2, (session_started AT TIME ZONE 'UTC')::date, step_order,
           coalesce(dropoff_reason, ''), coalesce(metadata ->> 'channel', ''),
           coalesce(metadata ->> 'device', ''), coalesce(metadata ->> 'campaign', ''), count(*)
    FROM new GROUP BY 3, 4, 5, 6, 7, 8
    ON CONFLICT (site_id, funnel_id, day, step_order, reason, channel, device, campaign)
    DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions
)
INSERT INTO funnel_duration_daily AS t
SELECT $1, $2, (session_started AT TIME ZONE 'UTC')::date, step_order, duration_seconds, count(*)
FROM new WHERE dropoff_reason IS NULL AND duration_seconds IS NOT NULL
GROUP BY 3, 4, 5
ON CONFLICT (site_id, funnel_id, day, step_order, seconds)
DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions

-- name: one_session
SELECT id, created_month, created_at, last_seen_at, exit_reason, canonical_user_id, fingerprint,
       '' AS device, '' AS campaign, '' AS channel
FROM sessions WHERE site_id = $1 AND id = $2
