-- name: monthly_partitions
-- Partitions named <parent>_YYYY_MM of the partitioned tables in public: whatever a
-- migration partitions by month (sessions, events, behaviour data …) is covered.
SELECT parent.relname AS parent, child.relname AS partition,
       to_date(right(child.relname, 7), 'YYYY_MM') AS month
FROM pg_inherits i
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = 'public'
  AND parent.relkind = 'p'
  AND child.relname = parent.relname || '_' || right(child.relname, 7)
  AND right(child.relname, 7) ~ '^\d{4}_\d{2}$'
ORDER BY month, parent.relname;

-- name: site_retention
SELECT id, public_id, settings FROM sites ORDER BY public_id;
