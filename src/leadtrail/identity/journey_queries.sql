-- Journey reads. $1 site id, $2 the person.

-- name: user_row
SELECT * FROM canonical_users WHERE site_id = $1 AND id = $2;

-- name: user_identifiers
SELECT kind, value, state, source, created_at FROM identity_links
WHERE site_id = $1 AND canonical_user_id = $2 ORDER BY kind, value;

-- name: user_sessions
SELECT id, created_month, created_at, last_seen_at, entry_page, exit_page, referrer, referrer_type,
       referrer_domain, search_query, utm_source, utm_medium, utm_campaign, utm_term, utm_content,
       gclid, wbraid, gbraid, fbclid, msclkid, browser, os, device_type, country_code, region,
       city, page_views, event_count, total_duration_sec, is_bounce, lead_score,
       attribution_source, converted, identity_via
FROM sessions WHERE site_id = $1 AND canonical_user_id = $2
ORDER BY created_at, id;

-- name: user_events
SELECT id, session_id, created_at, url, event_category, event_action, event_label, event_value,
       lead_score
FROM events
WHERE site_id = $1 AND session_id = ANY ($2::uuid[]) AND session_month = ANY ($3::date[])
ORDER BY created_at, id
LIMIT $4;

-- name: user_leads
SELECT id, external_lead_id, session_id, form_type, name, email, phone, company, message,
       lead_score, attributed_campaign, attributed_source, attribution_source, gclid, value,
       currency, status, submitted_at
FROM leads WHERE site_id = $1 AND canonical_user_id = $2 ORDER BY submitted_at, id;

-- name: user_calls
SELECT id, phone_number, caller_number, match_status, matched_session_id, lead_score,
       attribution_source, gclid, status, value, currency, created_at
FROM calls WHERE site_id = $1 AND canonical_user_id = $2 ORDER BY created_at, id;

-- name: site_timezone
SELECT timezone FROM sites WHERE id = $1;
