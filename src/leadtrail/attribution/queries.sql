-- Conversions and the sessions before them. $1 site id, $2/$3 the period, $4 lookback days.

-- name: conversion_touches
-- One row per (conversion, touch): the person's sessions started within the lookback
-- before the conversion; a conversion without a person falls back to its own session.
WITH conv AS (
    SELECT 'lead' AS type, id, submitted_at AS at, value, canonical_user_id AS uid,
           session_id, session_month
    FROM leads
    WHERE site_id = $1 AND submitted_at >= $2 AND submitted_at < $3
      AND status IS DISTINCT FROM 'junk' AND 'lead' = ANY ($5::text[])
    UNION ALL
    SELECT 'call', id, created_at, value, canonical_user_id, matched_session_id, matched_session_month
    FROM calls
    WHERE site_id = $1 AND created_at >= $2 AND created_at < $3
      AND status IS DISTINCT FROM 'junk' AND 'call' = ANY ($5::text[])
    UNION ALL
    SELECT 'event', e.id, e.created_at, e.event_value, s.canonical_user_id, e.session_id, e.session_month
    FROM events e
    JOIN sessions s ON s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month
    WHERE e.site_id = $1 AND e.created_at >= $2 AND e.created_at < $3
      AND e.event_category = 'conversion' AND 'event' = ANY ($5::text[])
)
SELECT c.type, c.id, c.at, c.value, t.id AS session_id, t.created_at AS touch_at,
       t.utm_source, t.utm_medium, t.utm_campaign, t.referrer_type, t.referrer_domain,
       t.gclid, t.wbraid, t.gbraid, t.fbclid, t.msclkid
FROM conv c
LEFT JOIN LATERAL (
    SELECT s.* FROM sessions s
    WHERE s.site_id = $1 AND c.uid IS NOT NULL AND s.canonical_user_id = c.uid
      AND s.created_at <= c.at AND s.created_at >= c.at - make_interval(days => $4)
    UNION ALL
    SELECT s.* FROM sessions s
    WHERE s.site_id = $1 AND c.uid IS NULL AND s.id = c.session_id AND s.created_month = c.session_month
) t ON true
ORDER BY c.at, c.type, c.id, t.created_at, t.id;
