-- Leads and calls. $1 is always the site id.

-- name: lead_by_external_id
SELECT * FROM leads WHERE site_id = $1 AND external_lead_id = $2;

-- name: lookback_session
-- The person's most recent session active within the lookback before the lead: sessions of
-- the people who own the lead's identifiers, or of its fingerprint (two index scans).
SELECT id FROM (
    SELECT id, last_seen_at FROM sessions
    WHERE site_id = $1 AND canonical_user_id = ANY ($2::uuid[])
      AND last_seen_at >= $4::timestamptz - make_interval(mins => $5)
      AND created_at <= $4::timestamptz + interval '5 minutes'
    UNION ALL
    SELECT id, last_seen_at FROM sessions
    WHERE site_id = $1 AND fingerprint = $3::text
      AND last_seen_at >= $4::timestamptz - make_interval(mins => $5)
      AND created_at <= $4::timestamptz + interval '5 minutes'
) candidates
ORDER BY last_seen_at DESC, id
LIMIT 1;

-- name: session_attribution
SELECT id, created_month, lead_score, utm_source, utm_medium, utm_campaign, referrer_domain,
       referrer_type, attribution_source, coalesce(gclid, wbraid, gbraid) AS click_id, gclid
FROM sessions WHERE site_id = $1 AND id = $2 AND created_month = $3;

-- name: mark_session_converted
UPDATE sessions SET converted = true
WHERE site_id = $1 AND id = $2 AND created_month = $3 AND NOT converted;

-- name: insert_lead
INSERT INTO leads (site_id, external_lead_id, session_id, session_month, canonical_user_id,
                   form_type, name, email, phone, company, message, lead_score,
                   attributed_campaign, attributed_source, attribution_source, gclid, value,
                   currency, submitted_at, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
RETURNING *;

-- name: match_call_session
-- Seeds 003/004: sessions with the fingerprint active within the window; the highest lead
-- score wins, then the most recent. When the call is relayed from the visitor's browser
-- ($5 = its address), sessions from the same network come first: identical phones share a
-- fingerprint, not a network.
SELECT id, created_month FROM sessions
WHERE site_id = $1 AND fingerprint = $2 AND last_seen_at >= $3::timestamptz - make_interval(mins => $4)
  AND created_at <= $3::timestamptz
ORDER BY ($5::inet IS NOT NULL AND ip_address IS NOT NULL
          AND leadtrail.ip_network(ip_address) = leadtrail.ip_network($5::inet)) DESC,
         lead_score DESC, last_seen_at DESC, id
LIMIT 1;

-- name: insert_call
INSERT INTO calls (site_id, phone_number, caller_number, match_status, matched_session_id,
                   matched_session_month, matched_fingerprint, canonical_user_id, lead_score,
                   attribution_source, gclid, utm_source, utm_campaign, value, currency,
                   created_at, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
RETURNING *;

-- name: find_call_site
SELECT site_id FROM calls WHERE id = $1;

-- name: update_call
UPDATE calls
SET status = CASE WHEN $3 THEN $4 ELSE status END,
    value = CASE WHEN $5 THEN $6 ELSE value END,
    currency = CASE WHEN $5 THEN $7 ELSE currency END,
    updated_at = now()
WHERE site_id = $1 AND id = $2
RETURNING *;

-- name: find_lead_site
SELECT site_id FROM leads WHERE id = $1;

-- name: update_lead
UPDATE leads
SET status = CASE WHEN $3 THEN $4 ELSE status END,
    value = CASE WHEN $5 THEN $6 ELSE value END,
    currency = CASE WHEN $5 THEN $7 ELSE currency END,
    updated_at = now()
WHERE site_id = $1 AND id = $2
RETURNING *;
