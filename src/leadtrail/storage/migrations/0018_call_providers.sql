-- Call-tracking providers that post calls to a site's webhook (issue 11): Twilio (Voice
-- status callbacks signed with the account's auth token) and a generic JSON webhook signed
-- HMAC-SHA256 (CallRail-style). The secret is needed to verify each request, so it is stored
-- encrypted (Fernet, keyed from the server's secret key), never in clear.

CREATE TABLE call_providers (
    site_id          uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('twilio', 'hmac')),
    secret_encrypted text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, kind)
);

SELECT leadtrail.apply_tenant_policy('call_providers');
ALTER TABLE call_providers ENABLE ROW LEVEL SECURITY;
ALTER TABLE call_providers FORCE ROW LEVEL SECURITY;

GRANT SELECT ON call_providers TO leadtrail_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON call_providers TO leadtrail_admin;
GRANT SELECT ON call_providers TO leadtrail_writer;
