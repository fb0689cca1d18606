-- Queries of the ingest writer. All run as leadtrail_writer with the batch's site ids in
-- the claims, so RLS bounds every statement to those sites.

-- name: create_stages
-- Per-connection staging tables: COPY is refused on tables with row-level security, so rows
-- are COPYed here (no RLS, no WAL) and moved with one INSERT ... SELECT that RLS checks.
-- Not on Citus (a temporary table cannot take part in a two-phase commit): there the writer
-- sends multi-row INSERT ... VALUES instead.
CREATE TEMP TABLE IF NOT EXISTS event_stage (
    site_id uuid, id uuid, session_id uuid, session_month date, created_at timestamptz,
    url text, event_category text, event_action text, event_label text, event_value numeric,
    lead_score smallint, client_event_id text, metadata jsonb
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS session_stage (
    site_id uuid, id uuid, created_month date, created_at timestamptz, last_seen_at timestamptz,
    fingerprint text, ip_address inet, entry_page text, exit_page text, referrer text,
    referrer_type text, referrer_domain text, search_query text, utm_source text,
    utm_medium text, utm_campaign text, utm_term text, utm_content text, gclid text,
    wbraid text, gbraid text, fbclid text, msclkid text, ttclid text, li_fat_id text, browser text, browser_version text,
    os text, os_version text, device_type text, language text, screen text, timezone text,
    country_code text, region text, city text, latitude double precision,
    longitude double precision, page_views integer, event_count integer,
    total_duration_sec integer, is_bounce boolean, lead_score integer,
    attribution_source text, converted boolean
) ON COMMIT DELETE ROWS;

-- name: find_sessions
-- Sessions of the batch that already exist. Only months that can hold a live session are
-- searched ($3 = the earliest such month), so each lookup probes one or two partitions.
SELECT s.site_id, s.id, s.created_month, s.created_at, s.referrer, s.lead_score, s.attribution_source,
       s.total_duration_sec, s.event_count,
       coalesce(s.gclid, s.wbraid, s.gbraid, s.fbclid, s.msclkid) IS NOT NULL AS has_click_id
FROM sessions s
JOIN unnest($1::uuid[], $2::uuid[]) AS k (site_id, id) ON s.site_id = k.site_id AND s.id = k.id
WHERE s.created_month >= $3;

-- name: ad_fingerprints
-- Which of these sessions (site, fingerprint, session start) had an ad click id in an
-- earlier session of the same fingerprint: one that started before this one. A later ad
-- visit does not make this one "ads assisted".
SELECT DISTINCT k.site_id, k.session_id
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[])
  AS k (site_id, fingerprint, session_id, started)
JOIN sessions s
  ON s.site_id = k.site_id AND s.fingerprint = k.fingerprint AND s.id <> k.session_id
 AND s.created_at < k.started
WHERE s.fingerprint IS NOT NULL
  AND coalesce(s.gclid, s.wbraid, s.gbraid, s.fbclid, s.msclkid) IS NOT NULL;

-- name: insert_events
-- Retried events (same site, session and client event id → same id) are skipped; the
-- returned ids are the events this batch really added.
INSERT INTO events (site_id, id, session_id, session_month, created_at, url, event_category,
                    event_action, event_label, event_value, lead_score, client_event_id, metadata)
SELECT site_id, id, session_id, session_month, created_at, url, event_category, event_action,
       event_label, event_value, lead_score, client_event_id, metadata
FROM event_stage
ON CONFLICT DO NOTHING
RETURNING id;

-- name: upsert_sessions
-- Rows are locked in (site_id, id) order so concurrent writers cannot deadlock.
INSERT INTO sessions AS s (
    site_id, id, created_month, created_at, last_seen_at, fingerprint, ip_address, entry_page,
    exit_page, referrer, referrer_type, referrer_domain, search_query, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, gclid, wbraid, gbraid, fbclid, msclkid, ttclid, li_fat_id, browser,
    browser_version, os, os_version, device_type, language, screen, timezone, country_code,
    region, city, latitude, longitude, page_views, event_count, total_duration_sec, is_bounce,
    lead_score, attribution_source, converted)
SELECT site_id, id, created_month, created_at, last_seen_at, fingerprint, ip_address, entry_page,
       exit_page, referrer, referrer_type, referrer_domain, search_query, utm_source, utm_medium,
       utm_campaign, utm_term, utm_content, gclid, wbraid, gbraid, fbclid, msclkid, ttclid, li_fat_id, browser,
       browser_version, os, os_version, device_type, language, screen, timezone, country_code,
       region, city, latitude, longitude, page_views, event_count, total_duration_sec,
       is_bounce AND page_views <= 1, lead_score, attribution_source, converted
FROM session_stage
ORDER BY site_id, id

-- name: session_merge
-- The upsert's conflict clause, shared by the staged statement above and the multi-row
-- VALUES statement the writer builds on Citus (ingest/batch.py). Only EXCLUDED and the
-- stored row, no now(): Citus requires immutable expressions here.
ON CONFLICT (site_id, id, created_month) DO UPDATE SET
    created_at = least(s.created_at, excluded.created_at),
    last_seen_at = greatest(s.last_seen_at, excluded.last_seen_at),
    entry_page = CASE WHEN excluded.created_at < s.created_at THEN excluded.entry_page ELSE s.entry_page END,
    exit_page = CASE WHEN excluded.last_seen_at >= s.last_seen_at THEN excluded.exit_page ELSE s.exit_page END,
    page_views = s.page_views + excluded.page_views,
    event_count = s.event_count + excluded.event_count,
    total_duration_sec = greatest(
        s.total_duration_sec, excluded.total_duration_sec,
        extract(epoch FROM greatest(s.last_seen_at, excluded.last_seen_at)
                           - least(s.created_at, excluded.created_at))::integer),
    is_bounce = s.is_bounce AND excluded.is_bounce AND s.page_views + excluded.page_views <= 1,
    lead_score = greatest(s.lead_score, excluded.lead_score),
    converted = s.converted OR excluded.converted,
    fingerprint = coalesce(s.fingerprint, excluded.fingerprint),
    ip_address = coalesce(s.ip_address, excluded.ip_address),
    referrer = coalesce(s.referrer, excluded.referrer),
    referrer_type = coalesce(s.referrer_type, excluded.referrer_type),
    referrer_domain = coalesce(s.referrer_domain, excluded.referrer_domain),
    search_query = coalesce(s.search_query, excluded.search_query),
    utm_source = coalesce(s.utm_source, excluded.utm_source),
    utm_medium = coalesce(s.utm_medium, excluded.utm_medium),
    utm_campaign = coalesce(s.utm_campaign, excluded.utm_campaign),
    utm_term = coalesce(s.utm_term, excluded.utm_term),
    utm_content = coalesce(s.utm_content, excluded.utm_content),
    gclid = coalesce(s.gclid, excluded.gclid),
    wbraid = coalesce(s.wbraid, excluded.wbraid),
    gbraid = coalesce(s.gbraid, excluded.gbraid),
    fbclid = coalesce(s.fbclid, excluded.fbclid),
    msclkid = coalesce(s.msclkid, excluded.msclkid),
    ttclid = coalesce(s.ttclid, excluded.ttclid),
    li_fat_id = coalesce(s.li_fat_id, excluded.li_fat_id),
    browser = coalesce(s.browser, excluded.browser),
    browser_version = coalesce(s.browser_version, excluded.browser_version),
    os = coalesce(s.os, excluded.os),
    os_version = coalesce(s.os_version, excluded.os_version),
    device_type = coalesce(s.device_type, excluded.device_type),
    language = coalesce(s.language, excluded.language),
    screen = coalesce(s.screen, excluded.screen),
    timezone = coalesce(s.timezone, excluded.timezone),
    country_code = coalesce(s.country_code, excluded.country_code),
    region = coalesce(s.region, excluded.region),
    city = coalesce(s.city, excluded.city),
    latitude = coalesce(s.latitude, excluded.latitude),
    longitude = coalesce(s.longitude, excluded.longitude),
    attribution_source = coalesce(s.attribution_source, excluded.attribution_source)
RETURNING site_id, id, created_month, lead_score, total_duration_sec, event_count, page_views,
          entry_page, utm_source, utm_campaign, attribution_source, fingerprint, created_at,
          canonical_user_id;

-- name: session_scores
SELECT s.site_id, s.id, s.lead_score
FROM sessions s
JOIN unnest($1::uuid[], $2::uuid[], $3::date[]) AS k (site_id, id, created_month)
  ON s.site_id = k.site_id AND s.id = k.id AND s.created_month = k.created_month;

-- name: site_by_public_id
SELECT id, public_id, domain, allowed_origins, settings FROM sites WHERE public_id = $1;

-- name: all_site_origins
SELECT domain, allowed_origins FROM sites;

-- name: add_rejections
INSERT INTO ingest_rejections (site_id, reason, detail, count, first_seen_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (site_id, reason, detail) DO UPDATE
SET count = ingest_rejections.count + EXCLUDED.count,
    last_seen_at = greatest(ingest_rejections.last_seen_at, EXCLUDED.last_seen_at);

-- name: site_rejections
SELECT reason, detail, count, first_seen_at, last_seen_at FROM ingest_rejections
WHERE site_id = $1 ORDER BY last_seen_at DESC LIMIT 50;
