-- Change feed (owner connection) and replay log reads (subscriber's claims, RLS applies).

-- name: slot_info
SELECT slot_name, plugin, slot_type, database, wal_status,
       (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint AS confirmed
FROM pg_replication_slots WHERE slot_name = $1

-- name: slot_active
SELECT active FROM pg_replication_slots WHERE slot_name = $1

-- name: create_slot
SELECT (lsn - '0/0'::pg_lsn)::bigint FROM pg_create_logical_replication_slot($1, 'pgoutput')

-- name: drop_slot
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name = $1 AND NOT active

-- name: node_open
INSERT INTO leadtrail.realtime_nodes (slot_name) VALUES ($1)
ON CONFLICT (slot_name) DO UPDATE SET seen_at = now()
RETURNING last_commit_lsn, last_position, pruned_through, logged_changes,
          stream_lsns::text AS stream_lsns

-- name: node_slot_recreated
-- A new slot starts now: whatever happened between the old one's end and now is not in
-- the replay log, so no `since` before now can be served exactly.
UPDATE leadtrail.realtime_nodes SET pruned_through = now(), seen_at = now()
WHERE slot_name = $1 RETURNING pruned_through

-- name: node_heartbeat
UPDATE leadtrail.realtime_nodes SET seen_at = now() WHERE slot_name = $1

-- name: stale_nodes
SELECT slot_name FROM leadtrail.realtime_nodes
WHERE slot_name <> $1 AND seen_at < now() - make_interval(secs => $2)

-- name: published_columns
SELECT t.tablename AS table_name, a.attname AS column_name, a.atttypid::int AS type_oid
FROM pg_publication_tables t
JOIN pg_attribute a ON a.attrelid = format('%I.%I', t.schemaname, t.tablename)::regclass
WHERE t.pubname = 'leadtrail_realtime' AND t.schemaname = 'public'
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY t.tablename, a.attnum

-- name: table_security
SELECT c.relname AS table_name, c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       has_table_privilege('leadtrail_analyst', c.oid, 'SELECT') AS analyst_select,
       has_table_privilege('leadtrail_admin', c.oid, 'SELECT') AS admin_select
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])

-- name: table_policies
SELECT tablename AS table_name, policyname AS name, roles::text[] AS roles, cmd,
       permissive = 'PERMISSIVE' AS permissive, coalesce(qual, '') AS using_expr
FROM pg_policies
WHERE schemaname = 'public' AND tablename = ANY($1::text[])

-- name: types
SELECT oid::int AS oid, typname::text AS name, typcategory::text AS category,
       typelem::int AS element
FROM pg_type

-- name: create_origin
-- The feed writes the replay log under this origin; peeks with origin 'none' skip it.
SELECT pg_replication_origin_create($1)
WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)

-- name: use_origin
SELECT pg_replication_origin_session_setup($1)

-- name: can_use_origins
SELECT current_setting('server_version_num')::int >= 160000
   AND has_function_privilege('pg_replication_origin_session_setup(text)', 'EXECUTE')
   AND has_function_privilege('pg_replication_origin_create(text)', 'EXECUTE')

-- name: foreign_origins
-- Origins that are not a leadtrail feed's (a subscription, a replication tool): rows they
-- apply carry an origin too, and a peek with origin 'none' would leave them out.
SELECT count(*) FROM pg_replication_origin WHERE roname NOT LIKE 'leadtrail\_rt\_%'

-- name: log_batch
-- One statement (one commit): the batch's rows, one per site, and the node's progress.
-- (A data-modifying WITH runs to completion whether or not the main query reads it.)
WITH logged AS (
    INSERT INTO leadtrail.realtime_log
        (site_id, slot_name, batch_end, batch_total, first_position, last_position, changes, data)
    SELECT s, $1, $2, $3, f, l, n, d
    FROM unnest($4::uuid[], $5::timestamptz[], $6::timestamptz[], $7::int[], $8::bytea[])
        AS u(s, f, l, n, d)
    RETURNING 1
)
UPDATE leadtrail.realtime_nodes
SET last_commit_lsn = $9, last_position = $2, logged_changes = $3, seen_at = now(),
    stream_lsns = stream_lsns || $10::jsonb
WHERE slot_name = $1
-- whether to keep skipping origin-tagged transactions (see foreign_origins), free here
RETURNING (SELECT count(*) FROM pg_replication_origin WHERE roname NOT LIKE 'leadtrail\_rt\_%')

-- name: prune
-- Keep batches newer than $2 seconds and at most $3 changes; remember the cut.
WITH newest AS (
    SELECT batch_total FROM leadtrail.realtime_log WHERE slot_name = $1
    ORDER BY batch_end DESC LIMIT 1
), gone AS (
    DELETE FROM leadtrail.realtime_log
    WHERE slot_name = $1
      AND (batch_end <= now() - make_interval(secs => $2)
           OR batch_total <= coalesce((SELECT batch_total FROM newest), 0) - $3)
    RETURNING batch_end
)
UPDATE leadtrail.realtime_nodes n
SET pruned_through = greatest(
        n.pruned_through, now() - make_interval(secs => $2),
        (SELECT max(batch_end) FROM gone)),
    seen_at = now()
WHERE n.slot_name = $1
RETURNING n.pruned_through

-- name: forget_node
WITH gone AS (DELETE FROM leadtrail.realtime_log WHERE slot_name = $1)
DELETE FROM leadtrail.realtime_nodes WHERE slot_name = $1

-- name: drop_origin
SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin WHERE roname = $1

-- name: replay
-- Runs under the subscriber's claims: the log's RLS policy keeps other sites' rows out.
-- Pages go by (batch_end, site_id); rows whose changes are all at or before `since` are
-- skipped, the rest is cut by position in Python.
SELECT site_id::text AS site_id, batch_end, data
FROM leadtrail.realtime_log
WHERE slot_name = $1 AND (batch_end, site_id) > ($2::timestamptz, $3::uuid)
  AND first_position <= $4 AND last_position > $5
ORDER BY batch_end, site_id
LIMIT $6

-- name: wal_flush_position
-- ChangeFeed.poll: everything committed before this is decoded once the server is past it.
SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint

-- name: claim_node
-- A node name is held by the live server whose owner connection holds this session lock
-- (0x4C545254 = 'LTRT' keeps it apart from other advisory locks).
SELECT pg_try_advisory_lock(1280594516, hashtext($1))

-- name: quiet_session
-- The replay log writes need no server log lines; only FATAL keeps this session's lines out
-- (LOG outranks WARNING there). Its errors still reach leadtrail, which logs them.
SET log_min_messages = fatal

-- name: citus_workers
-- The nodes holding shards besides the coordinator (group 0), each streamed by the feed.
SELECT nodename AS host, nodeport AS port FROM pg_dist_node
WHERE isactive AND noderole = 'primary' AND groupid <> 0
ORDER BY nodeid

-- name: forget_stream
-- A worker's slot was created anew: its old commit LSNs must not skip the new stream.
UPDATE leadtrail.realtime_nodes SET stream_lsns = stream_lsns - $2 WHERE slot_name = $1

-- name: wal_probe
-- This node's clock (microseconds since 2000-01-01 UTC), then a tiny transactional WAL
-- message: its commit flushes the WAL up to there, so the node's stream soon decodes past the
-- message's position, and by then it has sent every commit timestamped before the clock
-- (less a margin). pgoutput sends no messages unless asked ("messages" option).
SELECT ((extract(epoch FROM clock_timestamp()) - 946684800) * 1000000)::bigint AS clock,
       (pg_logical_emit_message(true, 'leadtrail_realtime_probe', '') - '0/0'::pg_lsn)::bigint
           AS lsn
