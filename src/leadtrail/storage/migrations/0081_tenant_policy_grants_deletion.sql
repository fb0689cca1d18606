-- Every tenant table gets its row-level-security policy from leadtrail.apply_tenant_policy.
-- Deleting a site (as its admin) needs DELETE on every one of them, which 0043 and 0080
-- granted over the catalog as it was then; a table added later without the grant broke site
-- deletion. The policy function now grants it too, so a new tenant table cannot miss it.
CREATE OR REPLACE FUNCTION leadtrail.apply_tenant_policy(tbl regclass, key text DEFAULT 'site_id') RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP POLICY IF EXISTS tenant ON %s', tbl);
    EXECUTE format(
        'CREATE POLICY tenant ON %s USING (leadtrail.site_visible(%I)) WITH CHECK (leadtrail.site_visible(%I))',
        tbl, key, key);
    EXECUTE format('GRANT SELECT (%I), DELETE ON %s TO leadtrail_admin', key, tbl);
END
$$;
