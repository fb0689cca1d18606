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
SELECT id, created_month, created_at, fingerprint, lead_score, utm_source, utm_medium,
       utm_campaign, referrer, referrer_domain, referrer_type, attribution_source,
       coalesce(gclid, wbraid, gbraid, msclkid, fbclid, ttclid, li_fat_id) AS click_id, gclid
FROM sessions WHERE site_id = $1 AND id = $2 AND created_month = $3;

-- name: mark_session_converted
-- A call or lead is a conversion of its session: converted, and its score at least what a
-- conversion earns there ($4). One UPDATE, none when nothing changes; the caller marks the
-- returned row for the rollups (storage/marks.py).
UPDATE sessions SET converted = true, lead_score = greatest(lead_score, $4)
WHERE site_id = $1 AND id = $2 AND created_month = $3 AND (NOT converted OR lead_score < $4)
RETURNING site_id, created_at, canonical_user_id;

-- name: insert_lead
-- $17.. the credited touch (leads.service.credit_columns).
INSERT INTO leads (site_id, external_lead_id, session_id, session_month, canonical_user_id,
                   form_type, name, email, phone, company, message, lead_score,
                   attribution_source, value, currency, submitted_at, metadata,
                   credited_session_id, credited_session_month, credited_at, attribution_model,
                   channel, attributed_source, utm_medium, attributed_campaign, gclid, gbraid,
                   wbraid, msclkid, fbclid, ttclid, li_fat_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32)
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
-- $13 is when the call started; $21.. the credited touch (leads.service.credit_columns).
-- A provider's retry that races the first post finds the unique key taken: no row back.
INSERT INTO calls (site_id, phone_number, caller_number, match_status, matched_session_id,
                   matched_session_month, matched_fingerprint, canonical_user_id, lead_score,
                   attribution_source, value, currency, started_at, metadata, external_call_id,
                   tracking_number, duration_s, recording_url, provider, match_method,
                   credited_session_id, credited_session_month, credited_at, attribution_model,
                   channel, utm_source, utm_medium, utm_campaign, gclid, gbraid, wbraid, msclkid,
                   fbclid, ttclid, li_fat_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35)
ON CONFLICT (site_id, external_call_id) DO NOTHING
RETURNING *;

-- name: call_by_external_id
SELECT * FROM calls WHERE site_id = $1 AND external_call_id = $2;

-- name: call_by_id
SELECT * FROM calls WHERE site_id = $1 AND id = $2;

-- name: session_by_id
-- A session of the site by id alone (the month is unknown to a provider or a lease).
SELECT id, created_month FROM sessions WHERE site_id = $1 AND id = $2
ORDER BY created_month DESC LIMIT 1;

-- name: tel_click_session
-- The latest tel:-link click to this number ($2: its digits; compared on the last 10, so a
-- link written without the country code still counts) within the window before the call.
SELECT e.session_id FROM events e
WHERE e.site_id = $1 AND e.event_action = 'phone_call'
  AND e.created_at <= $3::timestamptz
  AND e.created_at >= $3::timestamptz - make_interval(mins => $4)
  AND right(regexp_replace(coalesce(e.event_label, ''), '\D', '', 'g'), 10) = right($2::text, 10)
ORDER BY e.created_at DESC, e.id
LIMIT 1;

-- name: rematch_call
-- $8.. the credited touch (leads.service.credit_columns).
UPDATE calls
SET match_status = 'matched', match_method = 'manual', matched_session_id = $3,
    matched_session_month = $4, canonical_user_id = $5, lead_score = $6,
    attribution_source = $7, credited_session_id = $8, credited_session_month = $9,
    credited_at = $10, attribution_model = $11, channel = $12, utm_source = $13,
    utm_medium = $14, utm_campaign = $15, gclid = $16, gbraid = $17, wbraid = $18,
    msclkid = $19, fbclid = $20, ttclid = $21, li_fat_id = $22, updated_at = now()
WHERE site_id = $1 AND id = $2
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
