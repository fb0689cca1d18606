-- People: identity graph, merge history, ad spend; extensions of the 0002 tables for
-- identity resolution, call matching and attribution. Every key starts with site_id.

-- How a session got its person: 'fingerprint', 'network' (fingerprint + IP network, for
-- fingerprints shared by several people), 'solo' (no usable signal), 'identify', 'lead',
-- 'call'. Splitting a shared fingerprint only moves sessions joined by a weak signal.
ALTER TABLE sessions ADD COLUMN identity_via text;

-- The network a visitor's address belongs to: IPv4 /24, IPv6 /48 (the granularity of
-- ip_storage 'truncated', so truncated addresses still group the same way).
CREATE FUNCTION leadtrail.ip_network(addr inet) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT network(set_masklen(addr, CASE family(addr) WHEN 4 THEN 24 ELSE 48 END))::text
$$;
GRANT EXECUTE ON FUNCTION leadtrail.ip_network(inet) TO PUBLIC;

-- The background resolver's queue: sessions nobody has linked to a person yet.
CREATE INDEX sessions_unresolved_idx ON sessions (site_id, created_at)
    WHERE canonical_user_id IS NULL;
-- Click-level ad cost joins on the landing click id.
CREATE INDEX sessions_site_gclid_idx ON sessions (site_id, gclid) WHERE gclid IS NOT NULL;

ALTER TABLE canonical_users
    ADD COLUMN primary_referrer_type text,
    ADD COLUMN total_duration_sec    integer NOT NULL DEFAULT 0,
    ADD COLUMN total_leads           integer NOT NULL DEFAULT 0,
    ADD COLUMN total_calls           integer NOT NULL DEFAULT 0,
    ADD COLUMN merged_at             timestamptz;
CREATE INDEX canonical_users_site_merged_idx ON canonical_users (site_id, merged_into)
    WHERE merged_into IS NOT NULL;

-- The caller's own number when a call-tracking provider knows it (phone_number is the
-- number that was dialled, as in the seeds).
ALTER TABLE calls ADD COLUMN caller_number text;
CREATE INDEX calls_site_canonical_user_idx ON calls (site_id, canonical_user_id)
    WHERE canonical_user_id IS NOT NULL;
CREATE INDEX calls_site_fingerprint_idx ON calls (site_id, matched_fingerprint)
    WHERE matched_fingerprint IS NOT NULL;

-- ---------------------------------------------------------------------------------------
-- Identity graph: one row per identifier. Strong kinds (external_id, email, phone) and weak
-- ones (fingerprint, fingerprint_net = fingerprint@network) point at one person while
-- 'active'; a 'shared' identifier (a phone used by two people, a fingerprint of identical
-- phones) keeps its last owner for display but no longer resolves to anyone.

CREATE TABLE identity_links (
    site_id           uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('external_id', 'email', 'phone', 'fingerprint', 'fingerprint_net')),
    value             text NOT NULL CHECK (length(value) BETWEEN 1 AND 320),
    canonical_user_id uuid,
    state             text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'shared')),
    -- why it became shared ('concurrent_networks', 'many_networks', 'conflicting_people', 'unmerge')
    state_reason      text,
    -- what created it: identify, lead, call, resolver, import
    source            text NOT NULL,
    -- network (IPv4 /24, IPv6 /48) of the session that created a fingerprint link
    first_network     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, kind, value)
);
CREATE INDEX identity_links_user_idx ON identity_links (site_id, canonical_user_id);

-- Merge history: one row per person merged into a survivor, with everything that moved,
-- so the merge can be audited and undone exactly.
CREATE TABLE identity_merges (
    site_id          uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    survivor_id      uuid NOT NULL,
    merged_id        uuid NOT NULL,
    -- identify | lead | call | import
    reason           text NOT NULL,
    -- the identifier that tied them and where it came from (session, lead, call ids)
    evidence         jsonb NOT NULL DEFAULT '{}',
    -- {"sessions": [[id, month], ...], "leads": [...], "calls": [...], "links": [[kind, value], ...]}
    moved            jsonb NOT NULL,
    survivor_attributes_before jsonb NOT NULL DEFAULT '{}',
    created_by       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    undone_at        timestamptz,
    undone_by        text,
    PRIMARY KEY (site_id, id)
);
CREATE INDEX identity_merges_survivor_idx ON identity_merges (site_id, survivor_id, created_at);
CREATE INDEX identity_merges_merged_idx ON identity_merges (site_id, merged_id, created_at);

-- ---------------------------------------------------------------------------------------
-- Ad spend: daily campaign rows (gclid = '') and click-level rows (gclid = the click id,
-- cost = what that click cost). Imports upsert on the natural key.

CREATE TABLE ad_spend (
    site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    platform      text NOT NULL CHECK (platform ~ '^[a-z0-9_]{1,40}$'),
    campaign_id   text NOT NULL CHECK (length(campaign_id) BETWEEN 1 AND 200),
    campaign_name text NOT NULL DEFAULT '',
    date          date NOT NULL,
    gclid         text NOT NULL DEFAULT '',
    clicks        integer NOT NULL DEFAULT 0 CHECK (clicks >= 0),
    impressions   integer NOT NULL DEFAULT 0 CHECK (impressions >= 0),
    cost          numeric(14, 4) NOT NULL CHECK (cost >= 0),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    source        text NOT NULL DEFAULT 'api',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id),
    UNIQUE (site_id, platform, campaign_id, date, gclid)
);
CREATE INDEX ad_spend_site_date_idx ON ad_spend (site_id, date);
CREATE INDEX ad_spend_site_gclid_idx ON ad_spend (site_id, gclid) WHERE gclid <> '';

-- ---------------------------------------------------------------------------------------
-- Row-level security and grants, as for every tenant table.

ALTER TABLE identity_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity_links FORCE ROW LEVEL SECURITY;
ALTER TABLE identity_merges ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity_merges FORCE ROW LEVEL SECURITY;
ALTER TABLE ad_spend ENABLE ROW LEVEL SECURITY;
ALTER TABLE ad_spend FORCE ROW LEVEL SECURITY;

-- The standard tenant policy (0003's cheaper site check).
SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY['identity_links', 'identity_merges', 'ad_spend']::regclass[]) AS t;

GRANT SELECT ON identity_links, identity_merges, ad_spend TO leadtrail_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON identity_links, identity_merges, ad_spend TO leadtrail_admin;
-- The identity resolver and the server-side people paths run as the writer.
GRANT SELECT, INSERT, UPDATE ON identity_links, identity_merges TO leadtrail_writer;
GRANT SELECT ON ad_spend TO leadtrail_writer;
