-- Queries of the Firespring correlator (correlate.py).

-- name: site_config
SELECT id, public_id, domain, allowed_origins, settings FROM sites WHERE id = $1

-- name: visitors_page
SELECT visitor_id, visit_started_at, last_visit_at, ip_address, organization, browser, os,
       device, referrer, referrer_domain, landing_page, city, region, country_code,
       duration_seconds AS session_duration_seconds, coalesce(visit_started_at, last_visit_at) AS visit_time
FROM firespring_visitors
WHERE site_id = $1 AND deleted_at IS NULL AND visitor_id > $2
ORDER BY visitor_id
LIMIT $3

-- name: visitors_by_id
SELECT visitor_id, visit_started_at, last_visit_at, ip_address, organization, browser, os,
       device, referrer, referrer_domain, landing_page, city, region, country_code,
       duration_seconds AS session_duration_seconds, coalesce(visit_started_at, last_visit_at) AS visit_time
FROM firespring_visitors
WHERE site_id = $1 AND deleted_at IS NULL AND visitor_id = ANY($2::text[])

-- name: visitor_actions
SELECT action_id, action_type, visitor_id, page_url, occurred_at FROM firespring_actions
WHERE site_id = $1 AND visitor_id = ANY($2::text[]) AND deleted_at IS NULL
ORDER BY visitor_id, occurred_at, action_id

-- name: mirrored_leads
SELECT lead_id, name, email, phone, company, message, form_type, submitted_at
FROM mmp_toledo_leads WHERE site_id = $1 AND deleted_at IS NULL ORDER BY lead_id
