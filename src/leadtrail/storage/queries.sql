-- name: tenant_tables
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('public', 'leadtrail')
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND EXISTS (SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attname = 'site_id' AND NOT a.attisdropped)
ORDER BY 1, 2;

-- name: foreign_keys
-- Which table references which (partitions left out: their parent stands for them).
SELECT cn.nspname AS child_schema, c.relname AS child, pn.nspname AS parent_schema,
       p.relname AS parent
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
WHERE k.contype = 'f' AND NOT c.relispartition;
