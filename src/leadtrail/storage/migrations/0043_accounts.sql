-- Account management without a terminal: one-time links (invitations and password resets),
-- and what the credential role needs to change passwords and create invited accounts.

CREATE TABLE account_tokens (
    -- sha256 of the token in the link: the link itself is shown once and never stored
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_by uuid REFERENCES app_users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id);
ALTER TABLE account_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY auth_lookup ON account_tokens TO leadtrail_auth USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON account_tokens TO leadtrail_auth;

GRANT INSERT (email, name, password_hash, is_superuser) ON app_users TO leadtrail_auth;
GRANT UPDATE (name, disabled_at) ON app_users TO leadtrail_auth;
GRANT DELETE ON app_users TO leadtrail_auth;
GRANT INSERT ON site_members TO leadtrail_auth;

-- Creating a site from the dashboard (a superuser, as the credential role).
GRANT INSERT (public_id, name, domain, allowed_origins, timezone, created_by),
      SELECT (created_at, created_by) ON sites TO leadtrail_auth;

-- Deleting a site with its data runs as the site's admin, so row-level security confines every
-- delete to that one site. It deletes from every table with a site_id, found in the catalog.
GRANT DELETE ON sites TO leadtrail_admin;
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
