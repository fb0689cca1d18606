-- Deleting a site runs as its admin and empties every table with a site_id (0043 granted
-- DELETE on the tables that existed then). Tables added since (0055's local-day rollup,
-- 0061's click grid, ...) were left out, so deleting a site failed with "permission denied".
-- Grant again over the catalog as it is now; GRANT is idempotent.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'leadtrail') AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
          AND EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = 'site_id' AND NOT a.attisdropped)
    LOOP
        EXECUTE format('GRANT SELECT (site_id), DELETE ON %s TO leadtrail_admin', t);
    END LOOP;
END
$$;
