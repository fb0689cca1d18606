-- Named queries of the DynamoDB sync (see mirror.py for the per-table statements).

-- name: table_columns
SELECT column_name FROM information_schema.columns
WHERE table_schema = 'public' AND table_name = $1

-- name: lock_target
-- One writer per site and mirror table at a time (the stream reader, the Lambda endpoint
-- and an import may run together); keeps the tombstone check and the upsert consistent.
SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || '/' || $2, 1414))

-- name: tombstones
SELECT key, src_version, src_time, src_seq FROM leadtrail.sync_tombstones
WHERE site_id = $1 AND target = $2 AND key = ANY($3::text[])

-- name: put_tombstones
INSERT INTO leadtrail.sync_tombstones AS t (site_id, target, key, src_version, src_time, src_seq)
SELECT $1, $2, k, v, tm, sq
FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::numeric[]) AS d(k, v, tm, sq)
ON CONFLICT (site_id, target, key) DO UPDATE
SET src_version = EXCLUDED.src_version, src_time = EXCLUDED.src_time, src_seq = EXCLUDED.src_seq
WHERE (t.src_version, t.src_time, t.src_seq) < (EXCLUDED.src_version, EXCLUDED.src_time, EXCLUDED.src_seq)

-- name: add_dead_letters
INSERT INTO leadtrail.sync_dead_letters (site_id, source_table, event_id, record, reason)
SELECT $1, $2, e, r, why FROM unnest($3::text[], $4::jsonb[], $5::text[]) AS d(e, r, why)

-- name: list_dead_letters
SELECT id, source_table, event_id, reason, attempts, created_at, record
FROM leadtrail.sync_dead_letters
WHERE site_id = $1 AND ($2::text IS NULL OR source_table = $2)
ORDER BY id
LIMIT $3

-- name: take_dead_letters
SELECT id, source_table, event_id, record, attempts FROM leadtrail.sync_dead_letters
WHERE site_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2)) ORDER BY id FOR UPDATE

-- name: drop_dead_letters
DELETE FROM leadtrail.sync_dead_letters
WHERE site_id = $1 AND ($2::bigint[] IS NULL OR id = ANY($2))

-- name: retried_dead_letter
UPDATE leadtrail.sync_dead_letters SET attempts = attempts + 1, reason = $3
WHERE site_id = $1 AND id = $2

-- name: checkpoints
SELECT shard_id, parent_shard_id, sequence_number, finished FROM leadtrail.sync_checkpoints
WHERE site_id = $1 AND stream_arn = $2

-- name: save_checkpoint
INSERT INTO leadtrail.sync_checkpoints AS c
    (site_id, stream_arn, shard_id, parent_shard_id, sequence_number, finished, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (site_id, stream_arn, shard_id) DO UPDATE
SET sequence_number = coalesce(EXCLUDED.sequence_number, c.sequence_number),
    finished = EXCLUDED.finished, updated_at = EXCLUDED.updated_at

-- name: import_progress
SELECT segment, total_segments, last_key, rows_read, finished, started_ms
FROM leadtrail.sync_import_progress WHERE site_id = $1 AND source_table = $2 ORDER BY segment

-- name: save_import_progress
INSERT INTO leadtrail.sync_import_progress AS p
    (site_id, source_table, segment, total_segments, last_key, rows_read, finished, started_ms, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (site_id, source_table, segment) DO UPDATE
SET last_key = EXCLUDED.last_key, rows_read = EXCLUDED.rows_read,
    finished = EXCLUDED.finished, updated_at = EXCLUDED.updated_at

-- name: clear_import_progress
DELETE FROM leadtrail.sync_import_progress WHERE site_id = $1 AND source_table = $2
