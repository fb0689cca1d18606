-- Behaviour: the writer's step (as leadtrail_writer, claims = the batch's sites) and the
-- behaviour job's re-aggregation of one site's marked days (as the writer, one site).

-- name: create_behaviour_stage
CREATE TEMP TABLE IF NOT EXISTS behaviour_stage (
    site_id uuid, session_id uuid, id uuid, session_month date, created_at timestamptz,
    event_type text, page_url text, page_path text, device_class text, element_path text,
    element_type text, element_text text, component_id text, coordinates jsonb,
    viewport_size jsonb, event_data jsonb, metadata jsonb, client_event_id text
) ON COMMIT DELETE ROWS

-- name: move_behaviour_stage
-- One round trip: store (a retried event is skipped), mark the days, record exits.
INSERT INTO behavior_events (site_id, session_id, id, session_month, created_at, event_type,
    page_url, page_path, device_class, element_path, element_type, element_text, component_id,
    coordinates, viewport_size, event_data, metadata, client_event_id)
SELECT site_id, session_id, id, session_month, created_at, event_type, page_url, page_path,
       device_class, element_path, element_type, element_text, component_id, coordinates,
       viewport_size, event_data, metadata, client_event_id
FROM behaviour_stage
ON CONFLICT DO NOTHING;
INSERT INTO leadtrail.behaviour_dirty (site_id, day)
SELECT DISTINCT site_id, (created_at AT TIME ZONE 'UTC')::date FROM behaviour_stage
ON CONFLICT DO NOTHING;
UPDATE sessions AS s SET exit_reason = x.reason
FROM (SELECT DISTINCT ON (site_id, session_id) site_id, session_id, session_month,
             event_data ->> 'reason' AS reason
      FROM behaviour_stage
      WHERE event_type = 'page_exit'
        AND event_data ->> 'reason' IN ('timeout', 'navigation', 'close', 'refresh')
      ORDER BY site_id, session_id, created_at DESC) AS x
WHERE s.site_id = x.site_id AND s.id = x.session_id AND s.created_month = x.session_month
  AND s.exit_reason IS DISTINCT FROM x.reason

-- name: mark_behaviour_days
-- On Citus (behaviour/capture.py): the days of the stored events, for the behaviour job.
INSERT INTO leadtrail.behaviour_dirty (site_id, day)
SELECT * FROM unnest($1::uuid[], $2::date[])
ON CONFLICT DO NOTHING

-- name: set_exit_reason
-- On Citus: one session's exit reason, routed to its shard by site_id.
UPDATE sessions SET exit_reason = $4
WHERE site_id = $1 AND id = $2 AND created_month = $3 AND exit_reason IS DISTINCT FROM $4

-- name: behaviour_lock
SELECT pg_advisory_xact_lock(hashtext('leadtrail.behaviour'), hashtext($1::text))

-- name: drain_dirty
DELETE FROM leadtrail.behaviour_dirty RETURNING site_id, day

-- name: mark_dirty
INSERT INTO leadtrail.behaviour_dirty (site_id, day)
SELECT $1, unnest($2::date[])
ON CONFLICT DO NOTHING

-- name: clear_marks
DELETE FROM leadtrail.behaviour_dirty WHERE site_id = $1 AND day = ANY ($2::date[])

-- name: event_days
-- Days of one site holding behaviour events (for a rebuild).
SELECT DISTINCT (created_at AT TIME ZONE 'UTC')::date AS day
FROM behavior_events WHERE site_id = $1

-- name: refresh_clear
-- The rollup rows of days $2 of site $1, about to be re-aggregated.
WITH a AS (DELETE FROM behaviour_friction_daily WHERE site_id = $1 AND day = ANY ($2::date[])),
     b AS (DELETE FROM daily_friction_summary WHERE site_id = $1 AND date = ANY ($2::date[])),
     c AS (DELETE FROM behaviour_grid_daily WHERE site_id = $1 AND day = ANY ($2::date[])),
     d AS (DELETE FROM behaviour_scroll_daily WHERE site_id = $1 AND day = ANY ($2::date[])),
     e AS (DELETE FROM behaviour_component_daily WHERE site_id = $1 AND day = ANY ($2::date[])),
     f AS (DELETE FROM behaviour_element_daily WHERE site_id = $1 AND day = ANY ($2::date[])),
     g AS (DELETE FROM behaviour_grid_cells_daily WHERE site_id = $1 AND day = ANY ($2::date[]))
DELETE FROM behaviour_session_daily WHERE site_id = $1 AND day = ANY ($2::date[])

-- name: create_days_stage
-- The raw rows of the days being re-aggregated, read once (a temp table: sent on its own).
CREATE TEMP TABLE IF NOT EXISTS behaviour_days ON COMMIT DELETE ROWS AS
SELECT b.site_id, b.session_id, b.created_at, b.event_type, b.page_path, b.device_class,
       b.element_path, b.element_type, b.component_id, b.coordinates, b.event_data,
       (b.created_at AT TIME ZONE 'UTC')::date AS day, 0::bigint AS hes,
       0::float8 AS seconds_in, false AS converted
FROM behavior_events b WITH NO DATA

-- name: days_source
-- The raw rows of the days being re-aggregated, with what the rollups derive from them.
-- $3/$4: the first and last instant of days $2, so the scan uses (site_id, created_at).
-- Plain PostgreSQL stages these rows once (fill_days_stage); on Citus every rollup reads them
-- as a subquery (site_id comes from the source, so each INSERT ... SELECT stays on the shard).
SELECT b.site_id, b.session_id, b.created_at, b.event_type, b.page_path, b.device_class,
       b.element_path, b.element_type, b.component_id, b.coordinates, b.event_data,
       (b.created_at AT TIME ZONE 'UTC')::date AS day,
       CASE WHEN b.event_data ->> 'hesitation_ms' ~ '^[0-9]{1,9}$'
            THEN (b.event_data ->> 'hesitation_ms')::bigint END AS hes,
       extract(epoch FROM b.created_at - s.created_at)::float8 AS seconds_in,
       coalesce(s.converted, false) AS converted
FROM behavior_events b
LEFT JOIN sessions s ON s.site_id = b.site_id AND s.id = b.session_id AND s.created_month = b.session_month
WHERE b.site_id = $1 AND b.created_at >= $3 AND b.created_at < $4
  AND (b.created_at AT TIME ZONE 'UTC')::date = ANY ($2::date[])

-- name: aggregate_days_stage
-- Every rollup from the staged rows (one site per transaction).
INSERT INTO behaviour_friction_daily
SELECT site_id, day, event_type, page_path, coalesce(element_path, ''), coalesce(element_type, ''),
       coalesce(component_id, ''), count(*), count(DISTINCT session_id),
       coalesce(sum(greatest(seconds_in, 0)), 0), coalesce(sum(hes), 0), count(hes),
       min(created_at), max(created_at)
FROM behaviour_days
WHERE event_type NOT IN ('page_view', 'page_exit', 'scroll', 'scroll_depth')
GROUP BY 1, 2, 3, 4, 5, 6, 7;
INSERT INTO behaviour_element_daily
SELECT site_id, day, event_type, coalesce(element_path, ''), coalesce(element_type, ''), count(*),
       count(DISTINCT session_id), coalesce(sum(greatest(seconds_in, 0)), 0), min(created_at),
       max(created_at), array_agg(DISTINCT page_path ORDER BY page_path)
FROM behaviour_days
WHERE event_type NOT IN ('page_view', 'page_exit', 'scroll', 'scroll_depth')
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO daily_friction_summary
SELECT site_id, day, coalesce(element_path, ''), event_type, count(*), count(DISTINCT session_id),
       avg(hes), percentile_cont(0.5) WITHIN GROUP (ORDER BY hes),
       count(*) FILTER (WHERE event_type = 'form_abandon'),
       count(*) FILTER (WHERE event_type = 'form_submit')
FROM behaviour_days
GROUP BY 1, 2, 3, 4;
INSERT INTO behaviour_grid_daily
SELECT site_id, day, page_path, device_class, event_type,
       least(greatest(floor(20 * (coordinates ->> 'px')::float8 / nullif((coordinates ->> 'pw')::float8, 0)), 0), 19)::smallint,
       least(greatest(floor(50 * (coordinates ->> 'py')::float8 / nullif((coordinates ->> 'ph')::float8, 0)), 0), 49)::smallint,
       count(*)
FROM behaviour_days
WHERE event_type IN ('click', 'rage_click', 'dead_click')
  AND (coordinates ->> 'pw')::float8 > 0 AND (coordinates ->> 'ph')::float8 > 0
GROUP BY 1, 2, 3, 4, 5, 6, 7;
INSERT INTO behaviour_grid_cells_daily
SELECT site_id, page_path, day, device_class, event_type,
       array_agg((gy * 20 + gx)::smallint ORDER BY gy, gx), array_agg(events ORDER BY gy, gx)
FROM (SELECT site_id, page_path, day, device_class, event_type, gx, gy, count(*)::integer AS events
      FROM (SELECT site_id, page_path, day, device_class, event_type,
                   least(greatest(floor(20 * (coordinates ->> 'px')::float8 / nullif((coordinates ->> 'pw')::float8, 0)), 0), 19)::smallint AS gx,
                   least(greatest(floor(50 * (coordinates ->> 'py')::float8 / nullif((coordinates ->> 'ph')::float8, 0)), 0), 49)::smallint AS gy
            FROM behaviour_days
            WHERE event_type IN ('click', 'rage_click', 'dead_click')
              AND (coordinates ->> 'pw')::float8 > 0 AND (coordinates ->> 'ph')::float8 > 0) c
      GROUP BY 1, 2, 3, 4, 5, 6, 7) g
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO behaviour_scroll_daily
SELECT site_id, day, page_path, device_class,
       (least(greatest(floor((event_data ->> 'percentage')::float8 / 10), 0), 10) * 10)::smallint,
       count(*)
FROM behaviour_days
WHERE event_type = 'scroll_depth' AND event_data ? 'percentage'
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO behaviour_component_daily
SELECT site_id, day, component_id, page_path, count(*), count(DISTINCT session_id),
       count(*) FILTER (WHERE event_type = 'click'),
       count(*) FILTER (WHERE event_type = 'rage_click'),
       count(*) FILTER (WHERE event_type = 'hesitation'),
       coalesce(sum(hes) FILTER (WHERE event_type = 'hesitation'), 0),
       count(DISTINCT session_id) FILTER (WHERE converted),
       min(created_at), max(created_at)
FROM behaviour_days
WHERE component_id IS NOT NULL
GROUP BY 1, 2, 3, 4;
INSERT INTO behaviour_session_daily
SELECT site_id, day, session_id, count(*),
       count(*) FILTER (WHERE event_type = 'click'),
       count(*) FILTER (WHERE event_type = 'rage_click'),
       count(*) FILTER (WHERE event_type = 'dead_click'),
       count(*) FILTER (WHERE event_type = 'hesitation'),
       count(*) FILTER (WHERE event_type = 'form_abandon'),
       count(*) FILTER (WHERE event_type = 'form_submit'),
       count(*) FILTER (WHERE event_type = 'error'),
       max((event_data ->> 'percentage')::float8) FILTER (WHERE event_type = 'scroll_depth')
FROM behaviour_days
GROUP BY 1, 2, 3

-- name: friction_points
-- The seed's friction_points over days [$2, $3]: by element and type (friction types $4),
-- kept only past $5 events, with the pages they happened on.
WITH g AS (
    SELECT element_path, element_type, event_type, sum(events)::bigint AS event_count,
           sum(sessions)::bigint AS affected_sessions,
           sum(seconds_in_sum) / nullif(sum(events), 0) AS avg_time_to_event,
           min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM behaviour_element_daily
    WHERE site_id = $1 AND day BETWEEN $2 AND $3 AND event_type = ANY ($4::text[])
    GROUP BY element_path, element_type, event_type
    HAVING sum(events) > $5
    ORDER BY event_count DESC, element_path, event_type
    LIMIT 500
)
SELECT g.*, (SELECT array_agg(DISTINCT p ORDER BY p)
             FROM behaviour_element_daily d, unnest(d.pages) AS p
             WHERE d.site_id = $1 AND d.day BETWEEN $2 AND $3 AND d.event_type = g.event_type
               AND d.element_path = g.element_path AND d.element_type = g.element_type) AS pages_affected
FROM g
ORDER BY event_count DESC, element_path, event_type

-- name: raw_friction_points
-- The same straight from behavior_events (benchmarks and tests compare the two).
SELECT coalesce(b.element_path, '') AS element_path, coalesce(b.element_type, '') AS element_type,
       b.event_type, count(*) AS event_count, count(DISTINCT b.session_id) AS affected_sessions,
       avg(greatest(extract(epoch FROM b.created_at - s.created_at), 0)) AS avg_time_to_event,
       min(b.created_at) AS first_seen, max(b.created_at) AS last_seen,
       array_agg(DISTINCT b.page_path ORDER BY b.page_path) AS pages_affected
FROM behavior_events b
JOIN sessions s ON s.site_id = b.site_id AND s.id = b.session_id AND s.created_month = b.session_month
WHERE b.site_id = $1 AND b.created_at >= $2::date::timestamp AT TIME ZONE 'UTC'
  AND b.created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
  AND b.event_type = ANY ($4::text[])
GROUP BY 1, 2, 3
HAVING count(*) > $5
ORDER BY event_count DESC, element_path, event_type
LIMIT 500

-- name: daily_summary
SELECT date, element_path, event_type, event_count, unique_sessions, avg_hesitation_ms,
       median_hesitation_ms, form_abandons, form_submits
FROM daily_friction_summary
WHERE site_id = $1 AND date BETWEEN $2 AND $3
ORDER BY date, event_count DESC, element_path, event_type
LIMIT 5000

-- name: component_performance
SELECT component_id, page_path, sum(interactions)::bigint AS total_interactions,
       sum(sessions)::bigint AS unique_sessions, sum(clicks)::bigint AS clicks,
       sum(rage_clicks)::bigint AS rage_clicks, sum(hesitations)::bigint AS hesitations,
       sum(hesitation_sum)::float8 / nullif(sum(hesitations), 0) AS avg_hesitation_ms,
       sum(conversions)::bigint AS conversions, min(first_seen) AS first_seen,
       max(last_seen) AS last_seen
FROM behaviour_component_daily
WHERE site_id = $1 AND day BETWEEN $2 AND $3
GROUP BY component_id, page_path
ORDER BY total_interactions DESC, component_id, page_path
LIMIT 1000

-- name: session_analytics
-- The seed's session_analytics for sessions started in [$2, $3).
SELECT s.id AS session_id, s.entry_page AS landing_page, s.exit_page,
       coalesce(s.exit_reason, CASE WHEN s.last_seen_at < now() - interval '30 minutes'
                                    THEN 'timeout' END) AS exit_reason,
       s.total_duration_sec AS duration_seconds, greatest(s.page_views, 1) AS page_count,
       coalesce(sum(d.total_events), 0)::bigint AS total_events,
       coalesce(sum(d.clicks), 0)::bigint AS click_count,
       coalesce(sum(d.rage_clicks), 0)::bigint AS rage_click_count,
       coalesce(sum(d.dead_clicks), 0)::bigint AS dead_click_count,
       coalesce(sum(d.hesitations), 0)::bigint AS hesitation_count,
       coalesce(sum(d.form_abandons), 0)::bigint AS form_abandon_count,
       coalesce(sum(d.form_submits), 0)::bigint AS form_submit_count,
       coalesce(sum(d.errors), 0)::bigint AS error_count,
       max(d.max_scroll_depth) AS max_scroll_depth,
       coalesce((SELECT array_agg(DISTINCT cf.funnel_name) FROM conversion_funnels cf
                 WHERE cf.site_id = s.site_id AND cf.session_id = s.id), '{}') AS funnels_entered
FROM sessions s
LEFT JOIN behaviour_session_daily d ON d.site_id = s.site_id AND d.session_id = s.id
WHERE s.site_id = $1 AND s.created_at >= $2 AND s.created_at < $3
GROUP BY s.site_id, s.id, s.entry_page, s.exit_page, s.exit_reason, s.last_seen_at,
         s.total_duration_sec, s.page_views, s.created_at
ORDER BY s.created_at DESC
LIMIT $4

-- name: click_elements
-- Click map, by element, of page $4 over days [$2, $3].
SELECT element_path, element_type,
       sum(events) FILTER (WHERE event_type = 'click')::bigint AS clicks,
       coalesce(sum(events) FILTER (WHERE event_type = 'rage_click'), 0)::bigint AS rage_clicks,
       coalesce(sum(events) FILTER (WHERE event_type = 'dead_click'), 0)::bigint AS dead_clicks
FROM behaviour_friction_daily
WHERE site_id = $1 AND day BETWEEN $2 AND $3 AND page_path = $4
  AND event_type IN ('click', 'rage_click', 'dead_click')
GROUP BY element_path, element_type
ORDER BY clicks DESC NULLS LAST, element_path
LIMIT 500

-- name: click_grid
-- Click map, by position: page $4, device class $5 ('' = all), event types $6; one row per
-- day, device class and type holds its cells (gy * 20 + gx) and counts.
SELECT (u.cell % 20)::smallint AS gx, (u.cell / 20)::smallint AS gy, sum(u.n)::bigint AS events
FROM behaviour_grid_cells_daily g, unnest(g.cells, g.counts) AS u (cell, n)
WHERE g.site_id = $1 AND g.page_path = $4 AND g.day BETWEEN $2 AND $3
  AND ($5 = '' OR g.device_class = $5) AND g.event_type = ANY ($6::text[])
GROUP BY u.cell

-- name: raw_click_grid
SELECT least(greatest(floor(20 * (coordinates ->> 'px')::float8 / (coordinates ->> 'pw')::float8), 0), 19)::int AS gx,
       least(greatest(floor(50 * (coordinates ->> 'py')::float8 / (coordinates ->> 'ph')::float8), 0), 49)::int AS gy,
       count(*) AS events
FROM behavior_events
WHERE site_id = $1 AND created_at >= $2::date::timestamp AT TIME ZONE 'UTC'
  AND created_at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC' AND page_path = $4
  AND ($5 = '' OR device_class = $5) AND event_type = ANY ($6::text[])
  AND (coordinates ->> 'pw')::float8 > 0 AND (coordinates ->> 'ph')::float8 > 0
GROUP BY 1, 2

-- name: scroll_reach
-- Page views of page $4 by deepest 10 % step reached, device class $5 ('' = all).
SELECT depth, sum(views)::bigint AS views
FROM behaviour_scroll_daily
WHERE site_id = $1 AND day BETWEEN $2 AND $3 AND page_path = $4 AND ($5 = '' OR device_class = $5)
GROUP BY depth ORDER BY depth
