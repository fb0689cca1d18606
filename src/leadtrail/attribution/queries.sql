-- Conversions and the sessions before them. $1 site id, $2/$3 the period, $4 lookback days.

-- name: conversion_touches
-- One row per (conversion, touch): the person's sessions (all devices merged into them) that
-- started within the lookback before the conversion, plus the conversion's own session and
-- the session its stored credit names (so a lead posted through the API counts even before
-- the resolver has linked its person's sessions). Calls count at the time they started.
WITH conv AS (
    SELECT 'lead' AS type, id, submitted_at AS at, value, canonical_user_id AS uid,
           session_id, credited_session_id AS credited
    FROM leads
    WHERE site_id = $1 AND submitted_at >= $2 AND submitted_at < $3
      AND status IS DISTINCT FROM 'junk' AND 'lead' = ANY ($5::text[])
    UNION ALL
    SELECT 'call', id, coalesce(started_at, created_at), value, canonical_user_id,
           matched_session_id, credited_session_id
    FROM calls
    WHERE site_id = $1 AND coalesce(started_at, created_at) >= $2
      AND coalesce(started_at, created_at) < $3
      AND status IS DISTINCT FROM 'junk' AND 'call' = ANY ($5::text[])
    UNION ALL
    SELECT 'event', e.id, e.created_at, e.event_value, s.canonical_user_id, e.session_id, NULL::uuid
    FROM events e
    JOIN sessions s ON s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month
    WHERE e.site_id = $1 AND e.created_at >= $2 AND e.created_at < $3
      AND e.event_category = 'conversion' AND 'event' = ANY ($5::text[])
)
SELECT c.type, c.id, c.at, c.value, t.id AS session_id, t.created_at AS touch_at,
       t.utm_source, t.utm_medium, t.utm_campaign, t.referrer_type, t.referrer_domain,
       t.gclid, t.wbraid, t.gbraid, t.fbclid, t.msclkid, t.ttclid, t.li_fat_id
FROM conv c
LEFT JOIN LATERAL (
    SELECT s.id, s.created_at, s.utm_source, s.utm_medium, s.utm_campaign, s.referrer_type,
           s.referrer_domain, s.gclid, s.wbraid, s.gbraid, s.fbclid, s.msclkid, s.ttclid,
           s.li_fat_id
    FROM sessions s
    WHERE s.site_id = $1 AND c.uid IS NOT NULL AND s.canonical_user_id = c.uid
      AND s.created_at <= c.at + interval '5 minutes'
      AND s.created_at >= c.at - make_interval(days => $4)
    UNION
    SELECT s.id, s.created_at, s.utm_source, s.utm_medium, s.utm_campaign, s.referrer_type,
           s.referrer_domain, s.gclid, s.wbraid, s.gbraid, s.fbclid, s.msclkid, s.ttclid,
           s.li_fat_id
    FROM sessions s
    WHERE s.site_id = $1 AND s.id IN (c.session_id, c.credited)
      AND s.created_at <= c.at + interval '5 minutes'
      AND s.created_at >= c.at - make_interval(days => $4)
) t ON true
ORDER BY c.at, c.type, c.id, t.created_at, t.id;

-- name: unresolved_of_fingerprint
-- The most recent sessions of this fingerprint within the lookback that the background
-- resolver has not linked to a person yet (crediting resolves them first, so an earlier ad
-- visit counts). Bounded: the resolver normally keeps up, this only closes its gap.
SELECT * FROM (
    SELECT s.id, s.created_month, s.created_at, s.fingerprint,
           coalesce(leadtrail.ip_network(s.ip_address), '') AS network,
           s.canonical_user_id, s.identity_via,
           EXISTS (
               SELECT 1 FROM sessions o
               WHERE o.site_id = s.site_id AND o.fingerprint = s.fingerprint AND o.id <> s.id
                 AND o.last_seen_at >= s.created_at - make_interval(secs => $5)
                 AND o.created_at <= s.last_seen_at + make_interval(secs => $5)
                 AND o.ip_address IS NOT NULL AND s.ip_address IS NOT NULL
                 AND leadtrail.ip_network(o.ip_address) <> leadtrail.ip_network(s.ip_address)
           ) AS concurrent_elsewhere
    FROM sessions s
    WHERE s.site_id = $1 AND s.fingerprint = $2 AND s.canonical_user_id IS NULL
      AND s.created_at >= $3::timestamptz - make_interval(days => $4)
      AND s.created_at <= $3::timestamptz
    ORDER BY s.created_at DESC
    LIMIT 20
) recent
ORDER BY created_at, id;

-- name: person_touches
-- The person's sessions (all devices merged into them) that started within the click
-- lookback before the conversion ($6), up to $4 (the start of the visit it happened on), and
-- the converting session itself ($3). Two index scans, not one OR that would scan them all.
SELECT * FROM (
    SELECT s.id, s.created_month, s.created_at, s.utm_source, s.utm_medium, s.utm_campaign,
           s.referrer_type, s.referrer_domain, s.gclid, s.gbraid, s.wbraid, s.msclkid, s.fbclid,
           s.ttclid, s.li_fat_id
    FROM sessions s
    WHERE s.site_id = $1 AND s.canonical_user_id = $2::uuid
      AND s.created_at <= $4::timestamptz
      AND s.created_at >= $6::timestamptz - make_interval(days => $5)
    UNION
    SELECT s.id, s.created_month, s.created_at, s.utm_source, s.utm_medium, s.utm_campaign,
           s.referrer_type, s.referrer_domain, s.gclid, s.gbraid, s.wbraid, s.msclkid, s.fbclid,
           s.ttclid, s.li_fat_id
    FROM sessions s
    WHERE s.site_id = $1 AND s.id = $3::uuid
) touches
ORDER BY created_at, id
LIMIT 1000;

-- name: session_person
SELECT canonical_user_id FROM sessions WHERE site_id = $1 AND id = $2 LIMIT 1;
