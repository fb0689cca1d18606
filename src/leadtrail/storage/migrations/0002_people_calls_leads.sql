-- People, form leads and phone calls: the tables later features share (identity resolution,
-- call matching, realtime, dashboard). Shapes follow seed 000 (canonical_users,
-- session_lead_submissions) and seeds 003/004 (calls). Every key starts with site_id.

CREATE TABLE canonical_users (
    site_id              uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    first_seen_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at         timestamptz NOT NULL DEFAULT now(),
    total_sessions       integer NOT NULL DEFAULT 0,
    total_actions        integer NOT NULL DEFAULT 0,
    total_page_views     integer NOT NULL DEFAULT 0,
    is_returning_visitor boolean NOT NULL DEFAULT false,
    converted_to_lead    boolean NOT NULL DEFAULT false,
    lead_id              uuid,
    primary_ip_address   inet,
    primary_location     text,
    country_code         text,
    region               text,
    city                 text,
    preferred_browser    text,
    preferred_os         text,
    preferred_device     text,
    -- set when this person was merged into another (the survivor); such rows are kept so a
    -- merge can be undone, and hidden from reports
    merged_into          uuid,
    attributes           jsonb NOT NULL DEFAULT '{}',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);
CREATE INDEX canonical_users_site_last_seen_idx ON canonical_users (site_id, last_seen_at);

CREATE INDEX sessions_site_canonical_user_idx ON sessions (site_id, canonical_user_id)
    WHERE canonical_user_id IS NOT NULL;

-- Form submissions (seed 000 session_lead_submissions).
CREATE TABLE leads (
    site_id             uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    -- the caller's id for the lead (CRM id, form tool id); makes POST /api/leads idempotent
    external_lead_id    text,
    session_id          uuid,
    session_month       date,
    canonical_user_id   uuid,
    form_type           text,
    name                text,
    email               text,
    phone               text,
    company             text,
    message             text,
    lead_score          integer NOT NULL DEFAULT 0,
    attributed_campaign text,
    attributed_source   text,
    attribution_source  text,
    gclid               text,
    value               numeric,
    currency            text,
    status              text CHECK (status IN ('qualified', 'junk')),
    submitted_at        timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    metadata            jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, id),
    UNIQUE (site_id, external_lead_id)
);
CREATE INDEX leads_site_submitted_idx ON leads (site_id, submitted_at);
CREATE INDEX leads_site_canonical_user_idx ON leads (site_id, canonical_user_id);

-- Phone calls matched to sessions by fingerprint (seeds 003 §5, 004 §3).
CREATE TABLE calls (
    site_id              uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    phone_number         text NOT NULL,
    match_status         text NOT NULL DEFAULT 'unmatched' CHECK (match_status IN ('matched', 'unmatched')),
    matched_session_id   uuid,
    matched_session_month date,
    matched_fingerprint  text,
    canonical_user_id    uuid,
    lead_score           integer NOT NULL DEFAULT 0,
    attribution_source   text,
    gclid                text,
    utm_source           text,
    utm_campaign         text,
    -- the dashboard's quick actions
    status               text CHECK (status IN ('qualified', 'junk')),
    value                numeric,
    currency             text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    metadata             jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, id)
);
CREATE INDEX calls_site_created_idx ON calls (site_id, created_at);
CREATE INDEX calls_site_session_idx ON calls (site_id, matched_session_id) WHERE matched_session_id IS NOT NULL;
CREATE INDEX calls_site_status_idx ON calls (site_id, status) WHERE status IS NOT NULL;

ALTER TABLE canonical_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE canonical_users FORCE ROW LEVEL SECURITY;
ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE leads FORCE ROW LEVEL SECURITY;
ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant ON canonical_users
    USING (site_id = ANY (leadtrail.site_ids())) WITH CHECK (site_id = ANY (leadtrail.site_ids()));
CREATE POLICY tenant ON leads
    USING (site_id = ANY (leadtrail.site_ids())) WITH CHECK (site_id = ANY (leadtrail.site_ids()));
CREATE POLICY tenant ON calls
    USING (site_id = ANY (leadtrail.site_ids())) WITH CHECK (site_id = ANY (leadtrail.site_ids()));

GRANT INSERT ON leads, calls TO leadtrail_ingest;
GRANT SELECT ON canonical_users, leads, calls TO leadtrail_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON canonical_users, leads, calls TO leadtrail_admin;
GRANT SELECT, INSERT, UPDATE ON canonical_users, leads, calls TO leadtrail_writer;
