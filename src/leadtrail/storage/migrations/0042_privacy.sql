-- Privacy requests: an audit record of each erasure (counts only, no personal data), and the
-- grants an admin's erasure needs on the internal tables that can name a person.

CREATE TABLE erasure_log (
    site_id      uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    -- how the request named its subject (person, email, phone, fingerprint, session): the
    -- value itself is not kept
    subject_kind text NOT NULL,
    requested_by text NOT NULL,
    -- rows removed per table
    rows_removed jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);
CREATE INDEX erasure_log_site_created_idx ON erasure_log (site_id, created_at);
ALTER TABLE erasure_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE erasure_log FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('erasure_log');
GRANT SELECT ON erasure_log TO leadtrail_analyst;
GRANT SELECT, INSERT ON erasure_log TO leadtrail_admin;

-- DELETE … WHERE reads the columns it filters on, hence SELECT too.
GRANT SELECT, DELETE ON leadtrail.realtime_log, leadtrail.people_dirty TO leadtrail_admin;
GRANT SELECT, INSERT ON leadtrail.rollup_dirty TO leadtrail_admin;
