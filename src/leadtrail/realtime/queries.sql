-- Change feed (owner connection) and replay log reads (subscriber's claims, RLS applies).

-- name: slot_info
SELECT slot_name, plugin, slot_type, database, wal_status,
       (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint AS confirmed
FROM pg_replication_slots WHERE slot_name = $1

-- name: create_slot
SELECT (lsn - '0/0'::pg_lsn)::bigint FROM pg_create_logical_replication_slot($1, 'pgoutput')

-- name: drop_slot
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
WHERE slot_name = $1 AND NOT active

-- name: log_snapshot
-- A running-xacts record lets the slot's restart point follow it (otherwise the server logs
-- one every 15 s and every peek re-decodes the WAL since the last one). PostgreSQL 16+.
SELECT pg_log_standby_snapshot()

-- name: current_lsn
SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint

-- name: peek
SELECT (lsn - '0/0'::pg_lsn)::bigint AS lsn, data
FROM pg_logical_slot_peek_binary_changes(
    $1, '0/0'::pg_lsn + $2::bigint::numeric, $3,
    'proto_version', '1', 'publication_names', 'leadtrail_realtime')

-- name: advance
SELECT pg_replication_slot_advance($1, '0/0'::pg_lsn + $2::bigint::numeric)

-- name: node_open
INSERT INTO leadtrail.realtime_nodes (slot_name) VALUES ($1)
ON CONFLICT (slot_name) DO UPDATE SET seen_at = now()
RETURNING last_commit_lsn, last_position, pruned_through

-- name: node_slot_recreated
-- A new slot starts now: whatever happened between the old one's end and now is not in
-- the replay log, so no `since` before now can be served exactly.
UPDATE leadtrail.realtime_nodes SET pruned_through = now(), seen_at = now()
WHERE slot_name = $1 RETURNING pruned_through

-- name: node_progress
UPDATE leadtrail.realtime_nodes
SET last_commit_lsn = $2, last_position = $3, seen_at = now()
WHERE slot_name = $1

-- name: node_heartbeat
UPDATE leadtrail.realtime_nodes SET seen_at = now() WHERE slot_name = $1

-- name: prune
-- Keep changes newer than $2 seconds and at most $3 of them; remember the cut.
WITH cutoff AS (
    SELECT greatest(
        now() - make_interval(secs => $2),
        coalesce((SELECT position FROM leadtrail.realtime_log WHERE slot_name = $1
                  ORDER BY position DESC OFFSET $3 LIMIT 1), '-infinity')
    ) AS upto
), gone AS (
    DELETE FROM leadtrail.realtime_log l USING cutoff
    WHERE l.slot_name = $1 AND l.position <= cutoff.upto
    RETURNING 1
)
UPDATE leadtrail.realtime_nodes n
SET pruned_through = greatest(n.pruned_through, (SELECT upto FROM cutoff)), seen_at = now()
WHERE n.slot_name = $1
RETURNING n.pruned_through, (SELECT count(*) FROM gone) AS deleted

-- name: stale_nodes
SELECT slot_name FROM leadtrail.realtime_nodes
WHERE slot_name <> $1 AND seen_at < now() - make_interval(secs => $2)

-- name: forget_node
WITH gone AS (DELETE FROM leadtrail.realtime_log WHERE slot_name = $1)
DELETE FROM leadtrail.realtime_nodes WHERE slot_name = $1

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

-- name: replay
-- Runs under the subscriber's claims: the log's RLS policy keeps other sites' rows out.
SELECT position, commit_lsn, table_name, site_id::text AS site_id, change
FROM leadtrail.realtime_log
WHERE slot_name = $1 AND position > $2 AND position <= $3 AND table_name = ANY($4::text[])
ORDER BY position
LIMIT $5
