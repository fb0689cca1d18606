-- Dynamic number insertion (issue 11): a site's pool of tracking numbers, the lease of a
-- number to one session (a call to it within the lease matches that session with
-- certainty), and the visits that found the pool exhausted (shown on the Calls page).

CREATE TABLE dni_numbers (
    site_id        uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    number         text NOT NULL,          -- E.164
    label          text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- least-recently-used rotation: the next lease takes the number leased longest ago
    last_leased_at timestamptz,
    PRIMARY KEY (site_id, number)
);

CREATE TABLE dni_leases (
    site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    number        text NOT NULL,
    session_id    uuid NOT NULL,
    leased_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (site_id, id)
);
CREATE INDEX dni_leases_site_number_idx ON dni_leases (site_id, number, expires_at);
CREATE INDEX dni_leases_site_session_idx ON dni_leases (site_id, session_id, expires_at);

CREATE TABLE dni_exhaustions (
    site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    session_id  uuid,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);
CREATE INDEX dni_exhaustions_site_at_idx ON dni_exhaustions (site_id, at);

SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY['dni_numbers', 'dni_leases', 'dni_exhaustions']::regclass[]) AS t;
ALTER TABLE dni_numbers ENABLE ROW LEVEL SECURITY;
ALTER TABLE dni_numbers FORCE ROW LEVEL SECURITY;
ALTER TABLE dni_leases ENABLE ROW LEVEL SECURITY;
ALTER TABLE dni_leases FORCE ROW LEVEL SECURITY;
ALTER TABLE dni_exhaustions ENABLE ROW LEVEL SECURITY;
ALTER TABLE dni_exhaustions FORCE ROW LEVEL SECURITY;

GRANT SELECT ON dni_numbers, dni_leases, dni_exhaustions TO leadtrail_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON dni_numbers, dni_leases, dni_exhaustions TO leadtrail_admin;
-- the lease endpoint (tracker) and call matching run as the writer
GRANT SELECT, INSERT, UPDATE ON dni_numbers, dni_leases, dni_exhaustions TO leadtrail_writer;
