-- name: identifying_columns
-- Every column of a tenant table (one with site_id) that can hold a person's identifier,
-- from the catalog, so a table added later is covered without a hand-kept list.
SELECT n.nspname AS schema, c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname IN ('public', 'leadtrail')
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND EXISTS (SELECT 1 FROM pg_attribute s
              WHERE s.attrelid = c.oid AND s.attname = 'site_id' AND NOT s.attisdropped)
  AND a.attname = ANY($1::text[])
ORDER BY 1, 2, 3;

-- name: person_family
-- The person and everyone merged into them (a merge chain of any length).
WITH RECURSIVE family(id) AS (
    SELECT id FROM canonical_users WHERE site_id = $1 AND id = $2
    UNION
    SELECT u.id FROM canonical_users u JOIN family f ON u.merged_into = f.id
    WHERE u.site_id = $1
)
SELECT id FROM family;

-- name: person_of_link
SELECT canonical_user_id FROM identity_links WHERE site_id = $1 AND kind = $2 AND value = $3;

-- name: person_of_session
SELECT canonical_user_id FROM sessions WHERE site_id = $1 AND id = $2;

-- name: links_of_people
SELECT kind, value FROM identity_links WHERE site_id = $1 AND canonical_user_id = ANY($2::uuid[]);

-- name: sessions_of
SELECT id, fingerprint FROM sessions
WHERE site_id = $1
  AND (canonical_user_id = ANY($2::uuid[]) OR id = ANY($3::uuid[]) OR fingerprint = ANY($4::text[]));

-- name: contacts_of
SELECT email, phone FROM leads
WHERE site_id = $1 AND (canonical_user_id = ANY($2::uuid[]) OR session_id = ANY($3::uuid[]));

-- name: touched_hours
SELECT DISTINCT date_trunc('hour', created_at) AS hour FROM sessions
WHERE site_id = $1 AND id = ANY($2::uuid[])
UNION
SELECT DISTINCT date_trunc('hour', created_at) FROM events
WHERE site_id = $1 AND session_id = ANY($2::uuid[]);

-- name: mark_hours
INSERT INTO leadtrail.rollup_dirty (site_id, hour)
SELECT $1, h FROM unnest($2::timestamptz[]) AS h
ON CONFLICT DO NOTHING;

-- name: record_erasure
INSERT INTO erasure_log (site_id, subject_kind, requested_by, rows_removed)
VALUES ($1, $2, $3, $4)
RETURNING id, created_at;

-- name: list_erasures
SELECT id, subject_kind, requested_by, rows_removed, created_at FROM erasure_log
WHERE site_id = $1 ORDER BY created_at DESC LIMIT $2;

-- name: subject_mentioned
-- A lead or call may name an e-mail or phone that no person carries (yet).
SELECT EXISTS (SELECT 1 FROM leads WHERE site_id = $1
               AND (email = ANY($2::text[]) OR phone = ANY($3::text[])))
    OR EXISTS (SELECT 1 FROM calls WHERE site_id = $1
               AND (phone_number = ANY($3::text[]) OR caller_number = ANY($3::text[])));

-- name: erase_replay_log
-- The replay log stores pgoutput records: a batch that mentions an identifier goes whole.
DELETE FROM leadtrail.realtime_log
WHERE site_id = $1
  AND EXISTS (SELECT 1 FROM unnest($2::bytea[]) AS needle WHERE position(needle IN data) > 0);
