-- Ad spend, click-level cost, campaign performance, offline conversions. $1 = site id.

-- name: upsert_spend
INSERT INTO ad_spend (site_id, platform, campaign_id, campaign_name, date, clicks, impressions,
                      cost, currency, gclid, source)
SELECT $1, r.platform, r.campaign_id, r.campaign_name, r.date, r.clicks, r.impressions, r.cost,
       r.currency, r.gclid, $11
FROM unnest($2::text[], $3::text[], $4::text[], $5::date[], $6::int[], $7::int[], $8::numeric[],
            $9::text[], $10::text[])
     AS r(platform, campaign_id, campaign_name, date, clicks, impressions, cost, currency, gclid)
ON CONFLICT (site_id, platform, campaign_id, date, gclid) DO UPDATE
SET campaign_name = EXCLUDED.campaign_name, clicks = EXCLUDED.clicks,
    impressions = EXCLUDED.impressions, cost = EXCLUDED.cost, currency = EXCLUDED.currency,
    source = EXCLUDED.source, updated_at = EXCLUDED.updated_at  -- its default, now() (Citus)
RETURNING (xmax = 0) AS inserted;

-- name: matched_clicks
SELECT count(DISTINCT gclid) FROM sessions
WHERE site_id = $1 AND gclid = ANY ($2::text[]);

-- name: list_spend
SELECT platform, campaign_id, max(campaign_name) AS campaign_name, date,
       sum(clicks) FILTER (WHERE gclid = '')::int AS clicks,
       sum(impressions) FILTER (WHERE gclid = '')::int AS impressions,
       coalesce(sum(cost) FILTER (WHERE gclid = ''), 0) AS daily_cost,
       count(*) FILTER (WHERE gclid <> '')::int AS click_rows,
       coalesce(sum(cost) FILTER (WHERE gclid <> ''), 0) AS click_cost,
       max(currency) AS currency
FROM ad_spend WHERE site_id = $1 AND date >= $2 AND date <= $3
GROUP BY platform, campaign_id, date
ORDER BY date, platform, campaign_id;

-- name: session_costs
-- Click-level cost per session (seed ad_spend_sessions): the click row of its gclid, else
-- the campaign's daily cost / clicks on the day of the visit (site time zone).
WITH s AS (
    SELECT s.id, s.canonical_user_id, s.gclid, s.utm_campaign,
           (s.created_at AT TIME ZONE $3)::date AS day
    FROM sessions s
    WHERE s.site_id = $1 AND s.id = ANY ($2::uuid[])
      AND coalesce(s.gclid, s.wbraid, s.gbraid, s.fbclid, s.msclkid) IS NOT NULL
), v AS (
    SELECT session_id, sum(value) AS value FROM (
        SELECT session_id, value FROM leads
        WHERE site_id = $1 AND session_id = ANY ($2::uuid[]) AND status IS DISTINCT FROM 'junk'
        UNION ALL
        SELECT matched_session_id, value FROM calls
        WHERE site_id = $1 AND matched_session_id = ANY ($2::uuid[]) AND status IS DISTINCT FROM 'junk'
    ) conv GROUP BY session_id
), conv AS (
    SELECT session_id, count(*) AS n FROM (
        SELECT session_id FROM leads WHERE site_id = $1 AND session_id = ANY ($2::uuid[]) AND status IS DISTINCT FROM 'junk'
        UNION ALL
        SELECT matched_session_id FROM calls WHERE site_id = $1 AND matched_session_id = ANY ($2::uuid[]) AND status IS DISTINCT FROM 'junk'
    ) x GROUP BY session_id
)
SELECT s.id AS canonical_session_id, s.canonical_user_id, s.gclid,
       coalesce(c.platform, d.platform) AS ad_platform,
       coalesce(c.campaign_id, d.campaign_id) AS campaign_id,
       coalesce(c.campaign_name, d.campaign_name) AS campaign_name,
       coalesce(c.cost, round(d.cost / nullif(d.clicks, 0), 4)) AS cost_per_click,
       CASE WHEN c.cost IS NOT NULL THEN 'click' ELSE 'estimated' END AS cost_source,
       coalesce(c.currency, d.currency) AS currency,
       conv.n IS NOT NULL AS converted,
       coalesce(v.value, 0) AS conversion_value
FROM s
LEFT JOIN LATERAL (
    SELECT platform, campaign_id, campaign_name, cost, currency FROM ad_spend a
    WHERE a.site_id = $1 AND s.gclid IS NOT NULL AND a.gclid = s.gclid
    ORDER BY a.date DESC LIMIT 1
) c ON true
LEFT JOIN LATERAL (
    SELECT platform, campaign_id, campaign_name, cost, clicks, currency FROM ad_spend a
    WHERE a.site_id = $1 AND a.gclid = '' AND a.date = s.day AND c.cost IS NULL
      AND s.utm_campaign IS NOT NULL
      AND (lower(a.campaign_id) = lower(s.utm_campaign) OR lower(a.campaign_name) = lower(s.utm_campaign))
    ORDER BY a.platform, a.campaign_id LIMIT 1
) d ON true
LEFT JOIN v ON v.session_id = s.id
LEFT JOIN conv ON conv.session_id = s.id
WHERE c.cost IS NOT NULL OR d.clicks > 0
ORDER BY s.id;

-- name: campaign_spend
-- Per campaign: daily rows where a day has them, else the sum of that day's click rows.
WITH days AS (
    SELECT platform, campaign_id, max(campaign_name) AS campaign_name, date,
           count(*) FILTER (WHERE gclid = '') AS daily_rows,
           coalesce(sum(cost) FILTER (WHERE gclid = ''), 0) AS daily_cost,
           coalesce(sum(cost) FILTER (WHERE gclid <> ''), 0) AS click_cost,
           coalesce(sum(clicks) FILTER (WHERE gclid = ''), 0) AS daily_clicks,
           count(*) FILTER (WHERE gclid <> '') AS click_rows,
           coalesce(sum(impressions) FILTER (WHERE gclid = ''), 0) AS impressions
    FROM ad_spend WHERE site_id = $1 AND date >= $2 AND date <= $3
    GROUP BY platform, campaign_id, date
)
SELECT platform, campaign_id, max(campaign_name) AS campaign_name,
       sum(CASE WHEN daily_rows > 0 THEN daily_cost ELSE click_cost END) AS spend,
       sum(CASE WHEN daily_rows > 0 THEN daily_clicks ELSE click_rows END)::bigint AS clicks,
       sum(impressions)::bigint AS impressions
FROM days GROUP BY platform, campaign_id
ORDER BY platform, campaign_id;

-- name: campaign_sessions
SELECT lower(utm_campaign) AS key, max(utm_campaign) AS utm_campaign,
       count(*)::int AS sessions, count(DISTINCT canonical_user_id)::int AS users
FROM sessions
WHERE site_id = $1 AND created_at >= $2 AND created_at < $3 AND utm_campaign IS NOT NULL
GROUP BY lower(utm_campaign);

-- name: offline_conversions
-- Qualified calls and (not junk) leads whose credited touch carried a Google click id (an
-- ads-assisted return visit included), at the time the call started / the lead was sent.
SELECT 'call' AS type, c.id, c.gclid AS click_id, coalesce(c.started_at, c.created_at) AS at,
       c.value, c.currency
FROM calls c
WHERE c.site_id = $1 AND coalesce(c.started_at, c.created_at) >= $2
  AND coalesce(c.started_at, c.created_at) < $3
  AND c.status = 'qualified' AND c.gclid IS NOT NULL AND 'call' = ANY ($4::text[])
UNION ALL
SELECT 'lead', l.id, l.gclid, l.submitted_at, l.value, l.currency
FROM leads l
WHERE l.site_id = $1 AND l.submitted_at >= $2 AND l.submitted_at < $3
  AND l.status IS DISTINCT FROM 'junk' AND l.gclid IS NOT NULL AND 'lead' = ANY ($4::text[])
ORDER BY at, id;

-- name: offline_conversions_msclkid
-- The same for Microsoft Advertising click ids.
SELECT 'call' AS type, c.id, c.msclkid AS click_id, coalesce(c.started_at, c.created_at) AS at,
       c.value, c.currency
FROM calls c
WHERE c.site_id = $1 AND coalesce(c.started_at, c.created_at) >= $2
  AND coalesce(c.started_at, c.created_at) < $3
  AND c.status = 'qualified' AND c.msclkid IS NOT NULL AND 'call' = ANY ($4::text[])
UNION ALL
SELECT 'lead', l.id, l.msclkid, l.submitted_at, l.value, l.currency
FROM leads l
WHERE l.site_id = $1 AND l.submitted_at >= $2 AND l.submitted_at < $3
  AND l.status IS DISTINCT FROM 'junk' AND l.msclkid IS NOT NULL AND 'lead' = ANY ($4::text[])
ORDER BY at, id;
