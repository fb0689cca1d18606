-- Identity graph, merges and person totals. $1 is always the site id.

-- name: lock_keys
-- Serialises work on the same identifiers (two leads with one new email at once); keys are
-- taken in one global order so two transactions never wait on each other in a circle.
SELECT count(pg_advisory_xact_lock(k))
FROM (SELECT DISTINCT hashtextextended($1::uuid::text || ':' || x, 0) AS k
      FROM unnest($2::text[]) AS x ORDER BY 1) AS keys;

-- name: try_lock_resolver
SELECT pg_try_advisory_xact_lock(hashtextextended('identity-resolver:' || $1::uuid::text, 0));

-- name: links_for
-- One key lookup per identifier. OFFSET 0 keeps the LATERAL subquery a subquery: without it
-- the planner flattened it into a join, and the cached generic plan (planned while the
-- table's statistics said a site has a handful of rows) hash-joined the identifiers to
-- every link of the site, so each lead of a growing site got slower.
SELECT l.kind, l.value, l.canonical_user_id, l.state, l.first_network, l.state_reason
FROM unnest($2::text[], $3::text[]) AS k(kind, value)
CROSS JOIN LATERAL (
    SELECT l.kind, l.value, l.canonical_user_id, l.state, l.first_network, l.state_reason
    FROM identity_links l
    WHERE l.site_id = $1 AND l.kind = k.kind AND l.value = k.value
    OFFSET 0
) AS l;

-- name: profiles
-- One key lookup per person (OFFSET 0, see links_for): a generic plan of "id = ANY ($2)"
-- read every person of the site through the (site_id, last_seen_at) index.
SELECT cu.id, cu.created_at, cu.merged_into, l.kind, l.value
FROM unnest($2::uuid[]) AS wanted(id)
CROSS JOIN LATERAL (
    SELECT cu.id, cu.created_at, cu.merged_into
    FROM canonical_users cu
    WHERE cu.site_id = $1 AND cu.id = wanted.id
    OFFSET 0
) AS cu
LEFT JOIN LATERAL (
    SELECT l.kind, l.value
    FROM identity_links l
    WHERE l.site_id = $1 AND l.canonical_user_id = cu.id
      AND l.kind IN ('external_id', 'email', 'phone')
    OFFSET 0
) AS l ON true;

-- name: lock_users
-- The people, locked by key in the order of $2 (callers sort it: id order). One lookup per
-- id, kept one by OFFSET 0 (see links_for): a cached generic plan of "id = ANY ($2)", and
-- later of a plain join to unnest($2), read every person of the site. The rows are locked
-- as the nested loop reaches them, so in the array's order.
SELECT cu.id, cu.merged_into
FROM unnest($2::uuid[]) WITH ORDINALITY AS wanted(id, n)
CROSS JOIN LATERAL (
    SELECT cu.id, cu.merged_into
    FROM canonical_users cu
    WHERE cu.site_id = $1 AND cu.id = wanted.id
    OFFSET 0
    FOR UPDATE
) AS cu
ORDER BY wanted.n;

-- name: survivor_of
-- Follows merged_into to the person a (possibly merged) id now lives in.
WITH RECURSIVE chain(id, merged_into, depth) AS (
    SELECT id, merged_into, 0 FROM canonical_users WHERE site_id = $1 AND id = $2
    UNION ALL
    SELECT cu.id, cu.merged_into, chain.depth + 1
    FROM chain JOIN canonical_users cu ON cu.site_id = $1 AND cu.id = chain.merged_into
    WHERE chain.depth < 100
)
SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1;

-- name: create_users
-- One row per execution (executemany): Citus refuses INSERT ... SELECT unnest into a table
-- with row-level security ("COPY FROM not supported"), single-row inserts go to one shard.
INSERT INTO canonical_users (site_id, id, first_seen_at, last_seen_at, created_at)
VALUES ($1, $2, $3, $3, $3);

-- name: upsert_links
INSERT INTO identity_links (site_id, kind, value, canonical_user_id, state, state_reason, first_network, source)
SELECT $1, l.kind, l.value, l.uid, l.state, l.reason, l.net, $8
FROM unnest($2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[])
     AS l(kind, value, uid, state, reason, net)
ON CONFLICT (site_id, kind, value) DO UPDATE
SET canonical_user_id = EXCLUDED.canonical_user_id,
    state = EXCLUDED.state,
    state_reason = EXCLUDED.state_reason,
    first_network = coalesce(identity_links.first_network, EXCLUDED.first_network),
    updated_at = EXCLUDED.updated_at;  -- the column default, now(): Citus refuses now() here

-- name: mark_shared
UPDATE identity_links SET state = 'shared', state_reason = $4, updated_at = now()
WHERE site_id = $1 AND kind = $2 AND value = $3 AND state = 'active';

-- name: unresolved_batch
SELECT s.id, s.created_month, s.fingerprint, coalesce(leadtrail.ip_network(s.ip_address), '') AS network,
       EXISTS (
           SELECT 1 FROM sessions o
           WHERE o.site_id = s.site_id AND o.fingerprint = s.fingerprint AND o.id <> s.id
             AND o.last_seen_at >= s.created_at - make_interval(secs => $3)
             AND o.created_at <= s.last_seen_at + make_interval(secs => $3)
             AND o.ip_address IS NOT NULL AND s.ip_address IS NOT NULL
             AND leadtrail.ip_network(o.ip_address) <> leadtrail.ip_network(s.ip_address)
       ) AS concurrent_elsewhere
FROM sessions s
WHERE s.site_id = $1 AND s.canonical_user_id IS NULL
ORDER BY s.created_at, s.id
LIMIT $2;

-- name: one_session
SELECT s.id, s.created_month, s.fingerprint, coalesce(leadtrail.ip_network(s.ip_address), '') AS network,
       s.canonical_user_id, s.identity_via,
       EXISTS (
           SELECT 1 FROM sessions o
           WHERE o.site_id = s.site_id AND o.fingerprint = s.fingerprint AND o.id <> s.id
             AND o.last_seen_at >= s.created_at - make_interval(secs => $3)
             AND o.created_at <= s.last_seen_at + make_interval(secs => $3)
             AND o.ip_address IS NOT NULL AND s.ip_address IS NOT NULL
             AND leadtrail.ip_network(o.ip_address) <> leadtrail.ip_network(s.ip_address)
       ) AS concurrent_elsewhere
FROM sessions s
WHERE s.site_id = $1 AND s.id = $2
ORDER BY s.created_month DESC
LIMIT 1;

-- name: fingerprint_networks
SELECT fingerprint, array_agg(DISTINCT leadtrail.ip_network(ip_address)) AS networks
FROM sessions
WHERE site_id = $1 AND fingerprint = ANY ($2::text[]) AND ip_address IS NOT NULL
  AND last_seen_at > now() - make_interval(days => $3)
GROUP BY fingerprint;

-- name: owned_by_fingerprint
SELECT id, created_month, canonical_user_id, fingerprint, identity_via,
       coalesce(leadtrail.ip_network(ip_address), '') AS network
FROM sessions
WHERE site_id = $1 AND fingerprint = ANY ($2::text[])
  AND identity_via IN ('fingerprint', 'identify', 'lead', 'call')
  AND canonical_user_id IS NOT NULL;

-- name: assign_unresolved
-- Rows are locked in (site_id, id) order, as every writer of sessions does.
WITH v AS (
    SELECT * FROM unnest($2::uuid[], $3::date[], $4::uuid[], $5::text[]) AS v(id, month, uid, via)
), locked AS (
    SELECT s.id, s.created_month FROM sessions s JOIN v ON s.id = v.id AND s.created_month = v.month
    WHERE s.site_id = $1 AND s.canonical_user_id IS NULL
    ORDER BY s.id FOR UPDATE OF s
)
UPDATE sessions s SET canonical_user_id = v.uid, identity_via = v.via
FROM v JOIN locked ON locked.id = v.id AND locked.created_month = v.month
WHERE s.site_id = $1 AND s.id = v.id AND s.created_month = v.month
RETURNING s.id, s.site_id, s.created_at, s.canonical_user_id;

-- name: move_sessions
WITH v AS (
    SELECT * FROM unnest($2::uuid[], $3::date[], $4::uuid[], $5::uuid[], $6::text[])
        AS v(id, month, from_uid, uid, via)
), locked AS (
    SELECT s.id, s.created_month FROM sessions s JOIN v ON s.id = v.id AND s.created_month = v.month
    WHERE s.site_id = $1 AND s.canonical_user_id IS NOT DISTINCT FROM v.from_uid
    ORDER BY s.id FOR UPDATE OF s
)
UPDATE sessions s SET canonical_user_id = v.uid, identity_via = v.via
FROM v JOIN locked ON locked.id = v.id AND locked.created_month = v.month
WHERE s.site_id = $1 AND s.id = v.id AND s.created_month = v.month
RETURNING s.id, s.site_id, s.created_at, s.canonical_user_id;

-- name: refresh_user
-- One person's totals ($2; graph.refresh_users runs it once per person, pipelined). Totals
-- are a function of the person's rows, so a merge followed by an unmerge gives the same
-- figures back. Rows are only written when something changed.
-- Everything is looked up by key: the person by (site, id) = ($1, $2), a point lookup in
-- any plan; their rows with LATERAL (keyed by site and person). A cached generic plan of
-- "canonical_user_id = ANY ($2)" scanned every row of the site, and so did the plain join of
-- canonical_users to unnest($2) that replaced it (a hash join over the site's people,
-- planned while the fresh table's statistics said the site had a handful): every lead of a
-- growing site got slower.
WITH n AS (
    SELECT cu.id,
           coalesce(s.first_seen, cu.created_at) AS first_seen_at,
           coalesce(s.last_seen, cu.created_at) AS last_seen_at,
           s.sessions AS total_sessions,
           s.actions AS total_actions,
           s.page_views AS total_page_views,
           s.duration AS total_duration_sec,
           s.sessions > 1 AS is_returning_visitor,
           l.leads AS total_leads,
           c.calls AS total_calls,
           l.leads + c.calls > 0 AS converted_to_lead,
           l.lead_id,
           s.ip AS primary_ip_address,
           nullif(concat_ws(', ', nullif(split_part(s.loc, '|', 3), ''), nullif(split_part(s.loc, '|', 2), ''),
                            nullif(split_part(s.loc, '|', 1), '')), '') AS primary_location,
           nullif(split_part(s.loc, '|', 1), '') AS country_code,
           nullif(split_part(s.loc, '|', 2), '') AS region,
           nullif(split_part(s.loc, '|', 3), '') AS city,
           s.browser, s.os, s.device, s.referrer_type
    FROM canonical_users cu
    CROSS JOIN LATERAL (
        SELECT min(s.created_at) AS first_seen, max(s.last_seen_at) AS last_seen,
               count(*)::int AS sessions,
               coalesce(sum(s.event_count), 0)::int AS actions,
               coalesce(sum(s.page_views), 0)::int AS page_views,
               coalesce(sum(s.total_duration_sec), 0)::int AS duration,
               mode() WITHIN GROUP (ORDER BY s.ip_address) AS ip,
               mode() WITHIN GROUP (ORDER BY concat_ws('|', coalesce(s.country_code, ''), coalesce(s.region, ''), coalesce(s.city, '')))
                   FILTER (WHERE s.country_code IS NOT NULL OR s.city IS NOT NULL) AS loc,
               mode() WITHIN GROUP (ORDER BY s.browser) AS browser,
               mode() WITHIN GROUP (ORDER BY s.os) AS os,
               mode() WITHIN GROUP (ORDER BY s.device_type) AS device,
               mode() WITHIN GROUP (ORDER BY s.referrer_type) AS referrer_type
        FROM sessions s
        WHERE s.site_id = $1 AND s.canonical_user_id = cu.id
    ) AS s
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE status IS DISTINCT FROM 'junk')::int AS leads,
               (array_agg(id ORDER BY submitted_at DESC, id DESC) FILTER (WHERE status IS DISTINCT FROM 'junk'))[1] AS lead_id
        FROM leads WHERE site_id = $1 AND canonical_user_id = cu.id
    ) AS l
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE status IS DISTINCT FROM 'junk')::int AS calls
        FROM calls WHERE site_id = $1 AND canonical_user_id = cu.id
    ) AS c
    WHERE cu.site_id = $1 AND cu.id = $2::uuid
)
UPDATE canonical_users cu
SET first_seen_at = n.first_seen_at, last_seen_at = n.last_seen_at,
    total_sessions = n.total_sessions, total_actions = n.total_actions,
    total_page_views = n.total_page_views, total_duration_sec = n.total_duration_sec,
    is_returning_visitor = n.is_returning_visitor, total_leads = n.total_leads,
    total_calls = n.total_calls, converted_to_lead = n.converted_to_lead, lead_id = n.lead_id,
    primary_ip_address = n.primary_ip_address, primary_location = n.primary_location,
    country_code = n.country_code, region = n.region, city = n.city,
    preferred_browser = n.browser, preferred_os = n.os, preferred_device = n.device,
    primary_referrer_type = n.referrer_type, updated_at = now()
FROM n
WHERE cu.site_id = $1 AND cu.id = $2::uuid
  AND (cu.first_seen_at, cu.last_seen_at, cu.total_sessions, cu.total_actions, cu.total_page_views,
       cu.total_duration_sec, cu.is_returning_visitor, cu.total_leads, cu.total_calls,
       cu.converted_to_lead, cu.lead_id, cu.primary_ip_address, cu.primary_location,
       cu.country_code, cu.region, cu.city, cu.preferred_browser, cu.preferred_os,
       cu.preferred_device, cu.primary_referrer_type)
      IS DISTINCT FROM
      (n.first_seen_at, n.last_seen_at, n.total_sessions, n.total_actions, n.total_page_views,
       n.total_duration_sec, n.is_returning_visitor, n.total_leads, n.total_calls,
       n.converted_to_lead, n.lead_id, n.primary_ip_address, n.primary_location,
       n.country_code, n.region, n.city, n.browser, n.os, n.device, n.referrer_type);

-- name: take_dirty_people
-- People whose sessions changed since the last pass (marked by their writers: storage/marks.py).
DELETE FROM leadtrail.people_dirty WHERE site_id = $1 RETURNING canonical_user_id;

-- name: merge_sessions
WITH locked AS (
    SELECT id, created_month FROM sessions
    WHERE site_id = $1 AND canonical_user_id = $2
    ORDER BY id FOR UPDATE
)
UPDATE sessions s SET canonical_user_id = $3
FROM locked
WHERE s.site_id = $1 AND s.id = locked.id AND s.created_month = locked.created_month
RETURNING s.id, s.created_month, s.site_id, s.created_at, s.canonical_user_id;

-- name: merge_leads
UPDATE leads SET canonical_user_id = $3, updated_at = now()
WHERE site_id = $1 AND canonical_user_id = $2 RETURNING id;

-- name: merge_calls
UPDATE calls SET canonical_user_id = $3, updated_at = now()
WHERE site_id = $1 AND canonical_user_id = $2 RETURNING id;

-- name: merge_links
UPDATE identity_links SET canonical_user_id = $3, updated_at = now()
WHERE site_id = $1 AND canonical_user_id = $2 RETURNING kind, value;

-- name: retire_user
UPDATE canonical_users SET merged_into = $3, merged_at = now(), updated_at = now()
WHERE site_id = $1 AND id = $2 AND merged_into IS NULL
RETURNING attributes;

-- name: user_attributes
SELECT attributes FROM canonical_users WHERE site_id = $1 AND id = $2;

-- name: add_attributes
UPDATE canonical_users SET attributes = attributes || $3, updated_at = now()
WHERE site_id = $1 AND id = $2 AND NOT attributes @> $3;

-- name: set_attributes
UPDATE canonical_users SET attributes = $3, updated_at = now() WHERE site_id = $1 AND id = $2;

-- name: insert_merge
INSERT INTO identity_merges (site_id, survivor_id, merged_id, reason, evidence, moved,
                             survivor_attributes_before, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, created_at;

-- name: get_merge_for_update
SELECT id, survivor_id, merged_id, reason, evidence, moved, survivor_attributes_before,
       created_at, created_by, undone_at, undone_by
FROM identity_merges WHERE site_id = $1 AND id = $2 FOR UPDATE;

-- name: unmerge_sessions
WITH v AS (SELECT * FROM unnest($3::uuid[], $4::date[]) AS v(id, month)),
locked AS (
    SELECT s.id, s.created_month FROM sessions s JOIN v ON s.id = v.id AND s.created_month = v.month
    WHERE s.site_id = $1 AND s.canonical_user_id = $2
    ORDER BY s.id FOR UPDATE OF s
)
UPDATE sessions s SET canonical_user_id = $5
FROM locked
WHERE s.site_id = $1 AND s.id = locked.id AND s.created_month = locked.created_month
RETURNING s.id, s.site_id, s.created_at, s.canonical_user_id;

-- name: unmerge_leads
UPDATE leads SET canonical_user_id = $4, updated_at = now()
WHERE site_id = $1 AND canonical_user_id = $2 AND id = ANY ($3::uuid[]);

-- name: unmerge_calls
UPDATE calls SET canonical_user_id = $4, updated_at = now()
WHERE site_id = $1 AND canonical_user_id = $2 AND id = ANY ($3::uuid[]);

-- name: unmerge_links
UPDATE identity_links l SET canonical_user_id = $5, updated_at = now()
FROM unnest($3::text[], $4::text[]) AS k(kind, value)
WHERE l.site_id = $1 AND l.canonical_user_id = $2 AND l.kind = k.kind AND l.value = k.value;

-- name: revive_user
UPDATE canonical_users SET merged_into = NULL, merged_at = NULL, updated_at = now()
WHERE site_id = $1 AND id = $2;

-- name: mark_undone
UPDATE identity_merges SET undone_at = now(), undone_by = $3 WHERE site_id = $1 AND id = $2
RETURNING undone_at;

-- name: list_merges
SELECT id, survivor_id, merged_id, reason, evidence, created_at, created_by, undone_at, undone_by,
       jsonb_array_length(moved -> 'sessions') AS sessions_moved,
       jsonb_array_length(moved -> 'leads') AS leads_moved,
       jsonb_array_length(moved -> 'calls') AS calls_moved
FROM identity_merges
WHERE site_id = $1 AND ($2::uuid IS NULL OR survivor_id = $2 OR merged_id = $2)
ORDER BY created_at DESC, id
LIMIT $3;

-- name: identified_users
SELECT DISTINCT canonical_user_id FROM identity_links
WHERE site_id = $1 AND canonical_user_id = ANY ($2::uuid[])
  AND kind IN ('external_id', 'email', 'phone');
