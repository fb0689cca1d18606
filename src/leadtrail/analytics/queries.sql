-- Analytics queries. Reports read the rollup tables only; the raw tables are read for the
-- rollup job itself, the live feed (last N rows by index) and bounded drill-downs.

-- ---------------------------------------------------------------------------------------
-- Rollup maintenance (run as the writer, one site per transaction)

-- name: drain_dirty
-- Hours marked by the ingest writer (every session it touched) and by the trigger on
-- sessions.canonical_user_id (person changes), removed as they are read.
DELETE FROM leadtrail.rollup_dirty RETURNING site_id, hour

-- name: mark_dirty
-- Puts hours back when their refresh failed.
INSERT INTO leadtrail.rollup_dirty (site_id, hour)
SELECT $1, unnest($2::timestamptz[])
ON CONFLICT DO NOTHING

-- name: clear_marks
-- Marks of hours about to be re-aggregated: this transaction's aggregation (a later
-- snapshot) covers every change that set them. Marks set meanwhile survive for the next pass.
DELETE FROM leadtrail.rollup_dirty WHERE site_id = $1 AND hour = ANY($2::timestamptz[])

-- name: session_hours
-- Hours of one site that hold sessions, within [$2, $3).
SELECT DISTINCT date_trunc('hour', created_at, 'UTC') AS hour
FROM sessions
WHERE site_id = $1 AND created_at >= $2 AND created_at < $3

-- name: site_span
-- First and last session start of one site.
SELECT min(created_at) AS first, max(created_at) AS last FROM sessions WHERE site_id = $1

-- name: rollup_lock
SELECT pg_advisory_xact_lock(hashtext('leadtrail.rollups'), hashtext($1::text))

-- name: delete_hourly
DELETE FROM rollup_hourly WHERE site_id = $1 AND hour = ANY ($2::timestamptz[])

-- name: delete_dim_hourly
DELETE FROM rollup_dim_hourly
WHERE site_id = $1 AND dim = ANY ($3::text[]) AND hour = ANY ($2::timestamptz[])

-- name: insert_hourly
-- Re-aggregates the overview row of the given hours of one site from its sessions. A
-- session counts in the hour it started. Citus runs an INSERT ... SELECT on the shard only
-- when the target's site_id is the source's (s.site_id, not $1) and there is no
-- data-modifying WITH; otherwise it pulls the rows to the coordinator and sends them back
-- with COPY, which RLS refuses. Hence s.site_id, and one statement per table
-- (insert_dim_hourly) where one WITH used to fill both.
INSERT INTO rollup_hourly (site_id, hour, sessions, new_sessions, page_views, events, bounces,
                           duration_sec, conversions, lead_score_sum, hot_sessions,
                           paid_sessions, visitors, returning_visitors, converted_visitors)
SELECT f.site_id, f.hour, count(*), count(*) FILTER (WHERE NOT f.is_returning),
       sum(f.page_views), sum(f.event_count), count(*) FILTER (WHERE f.is_bounce),
       sum(f.total_duration_sec), count(*) FILTER (WHERE f.converted), sum(f.lead_score),
       count(*) FILTER (WHERE f.lead_score > 60), count(*) FILTER (WHERE f.paid),
       leadtrail.hll_sketch(array_agg(f.visitor)),
       leadtrail.hll_sketch(array_agg(f.visitor) FILTER (WHERE f.is_returning)),
       leadtrail.hll_sketch(array_agg(f.visitor) FILTER (WHERE f.converted))
FROM (
    SELECT s.site_id, h.hour, s.page_views, s.event_count, s.total_duration_sec, s.is_bounce,
           s.converted, s.lead_score,
           leadtrail.visitor_hash_of(s.canonical_user_id, s.fingerprint, s.id) AS visitor,
           coalesce(nullif(s.gclid, ''), nullif(s.gbraid, ''), nullif(s.wbraid, ''),
                    nullif(s.msclkid, ''), nullif(s.fbclid, '')) IS NOT NULL AS paid,
           -- returning: the same person or browser had a session that started earlier
           -- (the same test as in insert_dim_hourly and drilldown_sessions)
           (s.canonical_user_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM sessions AS p
                WHERE p.site_id = s.site_id AND p.canonical_user_id = s.canonical_user_id
                  AND p.created_at < s.created_at))
           OR (nullif(s.fingerprint, '') IS NOT NULL AND EXISTS (
                SELECT 1 FROM sessions AS p
                WHERE p.site_id = s.site_id AND p.fingerprint = s.fingerprint
                  AND p.created_at < s.created_at)) AS is_returning
    FROM (SELECT DISTINCT unnest($2::timestamptz[]) AS hour) AS h
    JOIN sessions AS s
      ON s.site_id = $1 AND s.created_at >= h.hour AND s.created_at < h.hour + interval '1 hour'
    -- one row per session already: grouping by its key only keeps PostgreSQL from copying
    -- is_returning (two index lookups) into every expression that reads it (OFFSET 0 would
    -- too, but Citus does not push it down)
    GROUP BY s.site_id, s.id, s.created_month, h.hour
) AS f
GROUP BY f.site_id, f.hour

-- name: insert_dim_hourly
-- The same hours' rows per (dimension, value), after insert_hourly (see there).
INSERT INTO rollup_dim_hourly (site_id, dim, hour, value, sessions, page_views, events, bounces,
                               duration_sec, conversions, lead_score_sum)
SELECT f.site_id, d.dim, f.hour, d.value, count(*), sum(f.page_views), sum(f.event_count),
       count(*) FILTER (WHERE f.is_bounce), sum(f.total_duration_sec),
       count(*) FILTER (WHERE f.converted), sum(f.lead_score)
FROM (
    SELECT s.site_id, h.hour, s.page_views, s.event_count, s.total_duration_sec, s.is_bounce,
           s.converted, s.lead_score, s.entry_page, s.exit_page, s.referrer_domain,
           s.referrer_type, s.search_query, s.utm_source, s.utm_medium, s.utm_campaign,
           s.gclid, s.gbraid, s.wbraid, s.msclkid, s.fbclid, s.attribution_source, s.browser,
           s.os, s.device_type, s.country_code, s.region, s.city,
           (s.canonical_user_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM sessions AS p
                WHERE p.site_id = s.site_id AND p.canonical_user_id = s.canonical_user_id
                  AND p.created_at < s.created_at))
           OR (nullif(s.fingerprint, '') IS NOT NULL AND EXISTS (
                SELECT 1 FROM sessions AS p
                WHERE p.site_id = s.site_id AND p.fingerprint = s.fingerprint
                  AND p.created_at < s.created_at)) AS is_returning
    FROM (SELECT DISTINCT unnest($2::timestamptz[]) AS hour) AS h
    JOIN sessions AS s
      ON s.site_id = $1 AND s.created_at >= h.hour AND s.created_at < h.hour + interval '1 hour'
    -- as in insert_hourly (here it keeps the lookups out of the per-dimension rows)
    GROUP BY s.site_id, s.id, s.created_month, h.hour
) AS f
CROSS JOIN LATERAL leadtrail.session_dims_of(
    entry_page => f.entry_page, exit_page => f.exit_page, referrer_domain => f.referrer_domain,
    referrer_type => f.referrer_type, search_query => f.search_query,
    utm_source => f.utm_source, utm_medium => f.utm_medium, utm_campaign => f.utm_campaign,
    gclid => f.gclid, gbraid => f.gbraid, wbraid => f.wbraid, msclkid => f.msclkid,
    fbclid => f.fbclid, attribution_source => f.attribution_source, browser => f.browser,
    os => f.os, device_type => f.device_type, country_code => f.country_code,
    region => f.region, city => f.city, is_returning => f.is_returning) AS d
GROUP BY f.site_id, d.dim, f.hour, d.value

-- name: insert_hourly_and_dims
-- insert_hourly and insert_dim_hourly in one statement, for plain PostgreSQL: the sessions
-- are read and their returning-visitor lookups made once for both tables (two statements
-- made the backfill at 10M events 1.5x slower). Citus refuses this form (see insert_hourly).
WITH facts AS MATERIALIZED (
    SELECT h.hour, s.page_views, s.event_count, s.total_duration_sec, s.is_bounce,
           s.converted, s.lead_score, s.entry_page, s.exit_page, s.referrer_domain,
           s.referrer_type, s.search_query, s.utm_source, s.utm_medium, s.utm_campaign,
           s.gclid, s.gbraid, s.wbraid, s.msclkid, s.fbclid, s.attribution_source, s.browser,
           s.os, s.device_type, s.country_code, s.region, s.city,
           leadtrail.visitor_hash_of(s.canonical_user_id, s.fingerprint, s.id) AS visitor,
           coalesce(nullif(s.gclid, ''), nullif(s.gbraid, ''), nullif(s.wbraid, ''),
                    nullif(s.msclkid, ''), nullif(s.fbclid, '')) IS NOT NULL AS paid,
           -- (the same test as in insert_hourly)
           (s.canonical_user_id IS NOT NULL AND EXISTS (
                SELECT 1 FROM sessions AS p
                WHERE p.site_id = s.site_id AND p.canonical_user_id = s.canonical_user_id
                  AND p.created_at < s.created_at))
           OR (nullif(s.fingerprint, '') IS NOT NULL AND EXISTS (
                SELECT 1 FROM sessions AS p
                WHERE p.site_id = s.site_id AND p.fingerprint = s.fingerprint
                  AND p.created_at < s.created_at)) AS is_returning
    FROM (SELECT DISTINCT unnest($2::timestamptz[]) AS hour) AS h
    JOIN sessions AS s
      ON s.site_id = $1 AND s.created_at >= h.hour AND s.created_at < h.hour + interval '1 hour'
),
overview AS (
    INSERT INTO rollup_hourly (site_id, hour, sessions, new_sessions, page_views, events, bounces,
                               duration_sec, conversions, lead_score_sum, hot_sessions,
                               paid_sessions, visitors, returning_visitors, converted_visitors)
    SELECT $1, hour, count(*), count(*) FILTER (WHERE NOT is_returning), sum(page_views),
           sum(event_count), count(*) FILTER (WHERE is_bounce), sum(total_duration_sec),
           count(*) FILTER (WHERE converted), sum(lead_score), count(*) FILTER (WHERE lead_score > 60),
           count(*) FILTER (WHERE paid),
           leadtrail.hll_sketch(array_agg(visitor)),
           leadtrail.hll_sketch(array_agg(visitor) FILTER (WHERE is_returning)),
           leadtrail.hll_sketch(array_agg(visitor) FILTER (WHERE converted))
    FROM facts
    GROUP BY hour
    RETURNING 1
)
-- (a data-modifying WITH runs to completion even though nothing reads it)
INSERT INTO rollup_dim_hourly (site_id, dim, hour, value, sessions, page_views, events, bounces,
                               duration_sec, conversions, lead_score_sum)
SELECT $1, d.dim, f.hour, d.value, count(*), sum(f.page_views), sum(f.event_count),
       count(*) FILTER (WHERE f.is_bounce), sum(f.total_duration_sec),
       count(*) FILTER (WHERE f.converted), sum(f.lead_score)
FROM facts AS f
CROSS JOIN LATERAL leadtrail.session_dims_of(
    entry_page => f.entry_page, exit_page => f.exit_page, referrer_domain => f.referrer_domain,
    referrer_type => f.referrer_type, search_query => f.search_query,
    utm_source => f.utm_source, utm_medium => f.utm_medium, utm_campaign => f.utm_campaign,
    gclid => f.gclid, gbraid => f.gbraid, wbraid => f.wbraid, msclkid => f.msclkid,
    fbclid => f.fbclid, attribution_source => f.attribution_source, browser => f.browser,
    os => f.os, device_type => f.device_type, country_code => f.country_code,
    region => f.region, city => f.city, is_returning => f.is_returning) AS d
GROUP BY d.dim, f.hour, d.value

-- name: delete_daily
DELETE FROM rollup_daily WHERE site_id = $1 AND day = ANY ($2::date[])

-- name: insert_daily
-- Merges the hourly overview rows of whole UTC days. site_id from the source, as in every
-- rollup INSERT ... SELECT (insert_hourly says why).
INSERT INTO rollup_daily (site_id, day, sessions, new_sessions, page_views, events, bounces,
                          duration_sec, conversions, lead_score_sum, hot_sessions, paid_sessions,
                          visitors, returning_visitors, converted_visitors)
SELECT r.site_id, d.day, sum(r.sessions), sum(r.new_sessions), sum(r.page_views),
       sum(r.events), sum(r.bounces), sum(r.duration_sec), sum(r.conversions),
       sum(r.lead_score_sum), sum(r.hot_sessions), sum(r.paid_sessions), bit_or(r.visitors),
       bit_or(r.returning_visitors), bit_or(r.converted_visitors)
FROM (SELECT DISTINCT unnest($2::date[]) AS day) AS d
JOIN rollup_hourly AS r
  ON r.site_id = $1
 AND r.hour >= d.day::timestamp AT TIME ZONE 'UTC'
 AND r.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY r.site_id, d.day

-- name: delete_dim_daily
DELETE FROM rollup_dim_daily
WHERE site_id = $1 AND dim = ANY ($3::text[]) AND day = ANY ($2::date[])

-- name: insert_dim_daily
-- Sums the hourly dimension rows of whole UTC days.
INSERT INTO rollup_dim_daily (site_id, dim, day, value, sessions, page_views, events, bounces,
                              duration_sec, conversions, lead_score_sum)
SELECT r.site_id, m.dim, d.day, r.value, sum(r.sessions), sum(r.page_views), sum(r.events),
       sum(r.bounces), sum(r.duration_sec), sum(r.conversions), sum(r.lead_score_sum)
FROM (SELECT DISTINCT unnest($2::date[]) AS day) AS d
CROSS JOIN unnest($3::text[]) AS m(dim)
JOIN rollup_dim_hourly AS r
  ON r.site_id = $1 AND r.dim = m.dim
 AND r.hour >= d.day::timestamp AT TIME ZONE 'UTC'
 AND r.hour < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY r.site_id, m.dim, d.day, r.value

-- name: delete_local_daily
-- Local days ($2: the site's zone) holding the hours $3, and every row cut in another zone.
DELETE FROM rollup_local_daily
WHERE site_id = $1
  AND (tz <> $2 OR day IN (SELECT (h AT TIME ZONE $2)::date
                           FROM unnest($3::timestamptz[]) AS h))

-- name: insert_local_daily
-- Merges the hourly overview rows of the local days (in zone $2) holding the hours $3. An
-- hour belongs to the local day its start falls on, as the series buckets it
-- (date_trunc('day', hour, zone)).
WITH days AS (
    SELECT DISTINCT (h AT TIME ZONE $2)::date AS day FROM unnest($3::timestamptz[]) AS h
)
INSERT INTO rollup_local_daily (site_id, day, tz, sessions, new_sessions, page_views, events,
                                bounces, duration_sec, conversions, lead_score_sum,
                                hot_sessions, paid_sessions, visitors, returning_visitors,
                                converted_visitors)
SELECT r.site_id, d.day, $2, sum(r.sessions), sum(r.new_sessions), sum(r.page_views),
       sum(r.events), sum(r.bounces), sum(r.duration_sec), sum(r.conversions),
       sum(r.lead_score_sum), sum(r.hot_sessions), sum(r.paid_sessions), bit_or(r.visitors),
       bit_or(r.returning_visitors), bit_or(r.converted_visitors)
FROM days AS d
JOIN rollup_hourly AS r
  ON r.site_id = $1
 -- the hour before the local midnight, for zones whose offset is not whole hours
 AND r.hour >= (d.day::timestamp AT TIME ZONE $2) - interval '1 hour'
 AND r.hour < ((d.day + 1)::timestamp AT TIME ZONE $2)
 AND (r.hour AT TIME ZONE $2)::date = d.day
GROUP BY r.site_id, d.day

-- name: delete_site_local_daily
DELETE FROM rollup_local_daily WHERE site_id = $1

-- name: recut_local_daily
-- Every local day of one site in zone $2 (its time zone changed, or it never had them),
-- after delete_site_local_daily.
INSERT INTO rollup_local_daily (site_id, day, tz, sessions, new_sessions, page_views, events,
                                bounces, duration_sec, conversions, lead_score_sum,
                                hot_sessions, paid_sessions, visitors, returning_visitors,
                                converted_visitors)
SELECT r.site_id, (r.hour AT TIME ZONE $2)::date, $2, sum(r.sessions), sum(r.new_sessions),
       sum(r.page_views), sum(r.events), sum(r.bounces), sum(r.duration_sec),
       sum(r.conversions), sum(r.lead_score_sum), sum(r.hot_sessions), sum(r.paid_sessions),
       bit_or(r.visitors), bit_or(r.returning_visitors), bit_or(r.converted_visitors)
FROM rollup_hourly AS r
WHERE r.site_id = $1
GROUP BY r.site_id, 2

-- ---------------------------------------------------------------------------------------
-- Reports (run as the caller: RLS applies)

-- name: overview_totals
-- With $8 (the range is whole local days of zone $9 with whole-hour edges): the local days
-- $10..$11 from the local-day table, and the hours [$12, $13) of local days without a row
-- there from the hourly one. Without: whole UTC days [$2, $3) from the daily table, the
-- hours [$4, $5) and [$6, $7) at the ends from the hourly one.
WITH local AS MATERIALIZED (
    SELECT day, sessions, new_sessions, page_views, events, bounces, duration_sec, conversions,
           lead_score_sum, hot_sessions, paid_sessions, visitors, returning_visitors,
           converted_visitors
    FROM rollup_local_daily
    WHERE $8 AND site_id = $1 AND tz = $9 AND day >= $10 AND day <= $11
),
facts AS (
    SELECT sessions, new_sessions, page_views, events, bounces, duration_sec, conversions,
           lead_score_sum, hot_sessions, paid_sessions, visitors, returning_visitors,
           converted_visitors
    FROM local
    UNION ALL
    SELECT sessions, new_sessions, page_views, events, bounces, duration_sec, conversions,
           lead_score_sum, hot_sessions, paid_sessions, visitors, returning_visitors,
           converted_visitors
    FROM rollup_hourly
    WHERE $8 AND site_id = $1 AND hour >= $12 AND hour < $13
      AND (hour AT TIME ZONE $9)::date NOT IN (SELECT day FROM local)
    UNION ALL
    SELECT sessions, new_sessions, page_views, events, bounces, duration_sec, conversions,
           lead_score_sum, hot_sessions, paid_sessions, visitors, returning_visitors,
           converted_visitors
    FROM rollup_daily
    WHERE NOT $8 AND site_id = $1 AND day >= $2 AND day < $3
    UNION ALL
    SELECT sessions, new_sessions, page_views, events, bounces, duration_sec, conversions,
           lead_score_sum, hot_sessions, paid_sessions, visitors, returning_visitors,
           converted_visitors
    FROM rollup_hourly
    WHERE NOT $8 AND site_id = $1 AND ((hour >= $4 AND hour < $5) OR (hour >= $6 AND hour < $7))
)
SELECT coalesce(sum(sessions), 0)::bigint AS sessions,
       coalesce(sum(new_sessions), 0)::bigint AS new_sessions,
       coalesce(sum(page_views), 0)::bigint AS page_views,
       coalesce(sum(events), 0)::bigint AS events,
       coalesce(sum(bounces), 0)::bigint AS bounces,
       coalesce(sum(duration_sec), 0)::bigint AS duration_sec,
       coalesce(sum(conversions), 0)::bigint AS conversions,
       coalesce(sum(lead_score_sum), 0)::bigint AS lead_score_sum,
       coalesce(sum(hot_sessions), 0)::bigint AS hot_sessions,
       coalesce(sum(paid_sessions), 0)::bigint AS paid_sessions,
       -- merged sketches, counted by leadtrail/analytics/hll.py
       bit_or(visitors) AS visitors,
       bit_or(returning_visitors) AS returning_visitors,
       bit_or(converted_visitors) AS converted_visitors
FROM facts

-- name: calls_leads_totals
-- Calls and form leads are few (one per conversion), so they are counted from their tables,
-- each table in one scan (a row costs ~1 µs, most of it the tenant policy).
SELECT c.calls, c.calls_matched, c.calls_qualified,
       (SELECT count(*) FROM leads
        WHERE site_id = $1 AND submitted_at >= $2 AND submitted_at < $3) AS leads
FROM (SELECT count(*) AS calls,
             count(*) FILTER (WHERE match_status = 'matched') AS calls_matched,
             count(*) FILTER (WHERE status = 'qualified') AS calls_qualified
      FROM calls
      WHERE site_id = $1 AND created_at >= $2 AND created_at < $3) AS c

-- name: overview_series
-- One row per bucket ($4 = hour|day|week|month in time zone $5), empty buckets included.
-- With $6 (day, week or month buckets of whole local days with whole-hour edges): the local
-- days $7..$8 from the local-day table, and the hours of local days without a row there
-- from the hourly one; without: every hour from the hourly table.
WITH buckets AS (
    SELECT DISTINCT date_trunc($4, h, $5) AS bucket
    FROM generate_series($2::timestamptz, $3::timestamptz - interval '1 hour', interval '1 hour') AS h
),
local AS MATERIALIZED (
    SELECT day, sessions, page_views, events, bounces, duration_sec, conversions, hot_sessions,
           visitors
    FROM rollup_local_daily
    WHERE $6 AND site_id = $1 AND tz = $5 AND day >= $7 AND day <= $8
),
facts AS (
    SELECT day::timestamp AT TIME ZONE $5 AS at, sessions, page_views, events, bounces,
           duration_sec, conversions, hot_sessions, visitors
    FROM local
    UNION ALL
    SELECT hour, sessions, page_views, events, bounces, duration_sec, conversions,
           hot_sessions, visitors
    FROM rollup_hourly
    WHERE site_id = $1 AND hour >= $2 AND hour < $3
      AND NOT ($6 AND (hour AT TIME ZONE $5)::date IN (SELECT day FROM local))
),
r AS (
    SELECT date_trunc($4, at, $5) AS bucket, sum(sessions) AS sessions,
           sum(page_views) AS page_views, sum(events) AS events, sum(bounces) AS bounces,
           sum(duration_sec) AS duration_sec, sum(conversions) AS conversions,
           sum(hot_sessions) AS hot_sessions, bit_or(visitors) AS visitors
    FROM facts
    GROUP BY 1
),
c AS (
    SELECT date_trunc($4, created_at, $5) AS bucket, count(*) AS calls,
           count(*) FILTER (WHERE match_status = 'matched') AS calls_matched,
           count(*) FILTER (WHERE status = 'qualified') AS calls_qualified
    FROM calls WHERE site_id = $1 AND created_at >= $2 AND created_at < $3
    GROUP BY 1
),
l AS (
    SELECT date_trunc($4, submitted_at, $5) AS bucket, count(*) AS leads
    FROM leads WHERE site_id = $1 AND submitted_at >= $2 AND submitted_at < $3
    GROUP BY 1
)
SELECT b.bucket,
       r.visitors,  -- the bucket's merged sketch, counted by leadtrail/analytics/hll.py
       coalesce(r.sessions, 0)::bigint AS sessions,
       coalesce(r.page_views, 0)::bigint AS page_views,
       coalesce(r.events, 0)::bigint AS events,
       coalesce(r.bounces, 0)::bigint AS bounces,
       coalesce(r.duration_sec, 0)::bigint AS duration_sec,
       coalesce(r.conversions, 0)::bigint AS conversions,
       coalesce(r.hot_sessions, 0)::bigint AS hot_sessions,
       coalesce(c.calls, 0)::bigint AS calls,
       coalesce(c.calls_matched, 0)::bigint AS calls_matched,
       coalesce(c.calls_qualified, 0)::bigint AS calls_qualified,
       coalesce(l.leads, 0)::bigint AS leads
FROM buckets AS b
LEFT JOIN r USING (bucket)
LEFT JOIN c USING (bucket)
LEFT JOIN l USING (bucket)
ORDER BY b.bucket

-- name: breakdown
-- Rows of one dimension: whole UTC days [$3, $4) from the daily table, the hours
-- [$5, $6) and [$7, $8) at the ends from the hourly one. $9: value prefix (geo drill-down).
WITH facts AS (
    SELECT value, sessions, page_views, events, bounces, duration_sec, conversions, lead_score_sum
    FROM rollup_dim_daily
    WHERE site_id = $1 AND dim = $2 AND day >= $3 AND day < $4
    UNION ALL
    SELECT value, sessions, page_views, events, bounces, duration_sec, conversions, lead_score_sum
    FROM rollup_dim_hourly
    WHERE site_id = $1 AND dim = $2
      AND ((hour >= $5 AND hour < $6) OR (hour >= $7 AND hour < $8))
),
grouped AS (
    SELECT value, sum(sessions)::bigint AS sessions, sum(page_views)::bigint AS page_views,
           sum(events)::bigint AS events, sum(bounces)::bigint AS bounces,
           sum(duration_sec)::bigint AS duration_sec, sum(conversions)::bigint AS conversions,
           sum(lead_score_sum)::bigint AS lead_score_sum
    FROM facts
    WHERE $9::text IS NULL OR starts_with(value, $9::text)
    GROUP BY value
)
SELECT *, count(*) OVER () AS total_rows, sum(sessions) OVER ()::bigint AS total_sessions
FROM grouped
ORDER BY sessions DESC, value
LIMIT $10 OFFSET $11

-- ---------------------------------------------------------------------------------------
-- Raw reads: last rows by index, one session, bounded drill-downs

-- name: recent_events
-- The newest events with their session, for the live feed's first paint.
SELECT e.id, e.session_id, e.session_month, e.created_at, e.url, e.event_category,
       e.event_action, e.event_label, e.event_value, e.lead_score,
       e.metadata ->> 'intelligence_summary' AS intelligence_summary,
       s.created_at AS session_started_at, s.entry_page, s.referrer_domain, s.referrer_type,
       s.utm_source, s.utm_campaign, s.attribution_source, s.device_type, s.browser, s.os,
       s.country_code, s.region, s.city, s.lead_score AS session_score,
       s.canonical_user_id, s.page_views, s.event_count, s.converted,
       (nullif(s.gclid, '') IS NOT NULL) AS has_gclid
FROM (SELECT * FROM events
      WHERE site_id = $1 AND ($3::boolean OR event_category <> 'system')
      ORDER BY created_at DESC
      LIMIT $2) AS e
LEFT JOIN sessions AS s  -- s.site_id = $1: Citus routes it (without, its coordinator crashes)
  ON s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month
 AND s.site_id = $1
ORDER BY e.created_at DESC

-- name: session_events
-- Every event of one session, oldest first (the journey shown on hover).
SELECT id, created_at, url, event_category, event_action, event_label, event_value, lead_score
FROM events
WHERE site_id = $1 AND session_id = $2
ORDER BY created_at, id
LIMIT 500

-- name: recent_calls
-- The newest calls with the session they were matched to.
SELECT c.id, c.phone_number, c.match_status, c.matched_session_id, c.canonical_user_id,
       c.lead_score, c.attribution_source, c.gclid, c.utm_source, c.utm_campaign, c.status,
       c.value, c.currency, c.created_at, c.updated_at, c.started_at, c.match_method,
       c.tracking_number, c.duration_s, c.recording_url, c.provider, c.external_call_id,
       c.channel, c.utm_medium, c.attribution_model, c.caller_number,
       s.referrer, s.entry_page, s.exit_page, s.referrer_domain, s.referrer_type, s.device_type,
       s.browser, s.country_code, s.region, s.city, s.lead_score AS session_score,
       s.attribution_source AS session_attribution
FROM calls AS c
LEFT JOIN sessions AS s
  ON s.site_id = c.site_id AND s.id = c.matched_session_id
 AND (c.matched_session_month IS NULL OR s.created_month = c.matched_session_month)
WHERE c.site_id = $1 AND ($3::text IS NULL OR c.match_status = $3::text)
ORDER BY c.created_at DESC
LIMIT $2

-- name: drilldown_sessions
-- Sessions started in [$2, $3), newest first, optionally only those whose dimension $4
-- has value $5 (same definitions as the rollups). The lookups say p.site_id = $1, not
-- s.site_id: Citus routes the query to one shard only when each read of sessions filters on $1.
SELECT s.id, s.created_at, s.last_seen_at, s.canonical_user_id, s.entry_page, s.exit_page,
       s.referrer_domain, s.referrer_type, s.utm_source, s.utm_campaign,
       s.attribution_source, s.browser, s.os, s.device_type, s.country_code, s.region,
       s.city, s.page_views, s.event_count, s.total_duration_sec, s.is_bounce,
       s.lead_score, s.converted
FROM sessions AS s
WHERE s.site_id = $1 AND s.created_at >= $2 AND s.created_at < $3
  AND ($4::text IS NULL OR EXISTS (
        SELECT 1
        FROM leadtrail.session_dims_of(
                 entry_page => s.entry_page, exit_page => s.exit_page,
                 referrer_domain => s.referrer_domain, referrer_type => s.referrer_type,
                 search_query => s.search_query, utm_source => s.utm_source,
                 utm_medium => s.utm_medium, utm_campaign => s.utm_campaign,
                 gclid => s.gclid, gbraid => s.gbraid, wbraid => s.wbraid,
                 msclkid => s.msclkid, fbclid => s.fbclid,
                 attribution_source => s.attribution_source, browser => s.browser,
                 os => s.os, device_type => s.device_type, country_code => s.country_code,
                 region => s.region, city => s.city,
                 is_returning =>
                 (s.canonical_user_id IS NOT NULL AND EXISTS (
                      SELECT 1 FROM sessions AS p
                      WHERE p.site_id = $1 AND p.canonical_user_id = s.canonical_user_id
                        AND p.created_at < s.created_at))
                 OR (nullif(s.fingerprint, '') IS NOT NULL AND EXISTS (
                      SELECT 1 FROM sessions AS p
                      WHERE p.site_id = $1 AND p.fingerprint = s.fingerprint
                        AND p.created_at < s.created_at))) AS d
        WHERE d.dim = $4 AND d.value = $5))
ORDER BY s.created_at DESC
LIMIT $6 OFFSET $7
