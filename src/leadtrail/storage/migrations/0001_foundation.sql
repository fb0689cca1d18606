-- Foundation: roles, claim helpers, accounts, sites, API keys, partitioned sessions/events,
-- monthly partition management and row-level security.
--
-- Roles are cluster-wide, so they are created idempotently (another database of the same
-- cluster, such as a test template, may have created them already).

CREATE SCHEMA IF NOT EXISTS leadtrail;

DO $$
DECLARE
    r text;
BEGIN
    -- Caller roles (the seeds' anon / ingest / analyst / admin) and two system roles:
    -- leadtrail_auth resolves credentials, leadtrail_writer runs the ingest writer.
    FOREACH r IN ARRAY ARRAY['leadtrail_anon', 'leadtrail_ingest', 'leadtrail_analyst',
                             'leadtrail_admin', 'leadtrail_auth', 'leadtrail_writer'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT NOBYPASSRLS', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    -- The request path logs in as leadtrail_app: no privileges of its own (NOINHERIT),
    -- it only SET LOCAL ROLEs into one of the roles above per transaction.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leadtrail_app') THEN
        BEGIN
            CREATE ROLE leadtrail_app LOGIN NOINHERIT NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
END
$$;

GRANT leadtrail_anon, leadtrail_ingest, leadtrail_analyst, leadtrail_admin,
      leadtrail_auth, leadtrail_writer TO leadtrail_app;

GRANT USAGE ON SCHEMA leadtrail TO leadtrail_anon, leadtrail_ingest, leadtrail_analyst,
      leadtrail_admin, leadtrail_auth, leadtrail_writer;
GRANT USAGE ON SCHEMA public TO leadtrail_anon, leadtrail_ingest, leadtrail_analyst,
      leadtrail_admin, leadtrail_auth, leadtrail_writer;

-- ---------------------------------------------------------------------------------------
-- Claim helpers, in the spirit of Supabase's auth.uid(). The caller is set per transaction
-- with SET LOCAL request.jwt.claims = '{"sub": ..., "role": ..., "site_ids": [...]}'.
-- An unset or empty value yields no site ids: no access.
-- They are single-expression SQL functions so the planner inlines them into policies.

CREATE FUNCTION leadtrail.claims() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb, '{}'::jsonb)
$$;

CREATE FUNCTION leadtrail.site_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    -- '["a","b"]' -> '{a,b}' -> uuid[]: no subquery, so policies stay subquery-free.
    SELECT CASE WHEN jsonb_typeof(leadtrail.claims() -> 'site_ids') = 'array'
                THEN translate((leadtrail.claims() -> 'site_ids')::text, '[]" ', '{}')::uuid[]
                ELSE '{}'::uuid[] END
$$;

CREATE FUNCTION leadtrail.uid() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN (leadtrail.claims() ->> 'sub')
                     ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                THEN (leadtrail.claims() ->> 'sub')::uuid END
$$;

CREATE FUNCTION leadtrail.role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(leadtrail.claims() ->> 'role', 'anon')
$$;

GRANT EXECUTE ON FUNCTION leadtrail.claims(), leadtrail.site_ids(), leadtrail.uid(),
      leadtrail.role() TO PUBLIC;

-- ---------------------------------------------------------------------------------------
-- Accounts and tenants

CREATE TABLE app_users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email = lower(email) AND email LIKE '%_@_%'),
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    -- may create sites and manage every account (the first-run admin)
    is_superuser  boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    disabled_at   timestamptz,
    UNIQUE (email)
);

CREATE TABLE sites (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    public_id       text NOT NULL UNIQUE CHECK (public_id ~ '^[A-Za-z0-9_-]{4,64}$'),
    name            text NOT NULL,
    domain          text NOT NULL,
    allowed_origins text[] NOT NULL DEFAULT '{}',
    settings        jsonb NOT NULL DEFAULT '{}',
    timezone        text NOT NULL DEFAULT 'UTC',
    created_by      uuid REFERENCES app_users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE site_members (
    site_id    uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'analyst', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, user_id)
);
CREATE INDEX site_members_user_idx ON site_members (user_id);

CREATE TABLE api_keys (
    site_id      uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    name         text NOT NULL DEFAULT '',
    -- shown to users so they can tell keys apart; the secret part is only hashed
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL,
    scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['ingest', 'read', 'admin'] AND cardinality(scopes) > 0),
    created_by   uuid REFERENCES app_users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (site_id, id),
    UNIQUE (site_id, prefix)
);
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);

-- Dashboard logins; the cookie carries a signed random token, only its hash is stored.
CREATE TABLE dashboard_sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES app_users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    user_agent   text NOT NULL DEFAULT ''
);
CREATE INDEX dashboard_sessions_user_idx ON dashboard_sessions (user_id);

-- ---------------------------------------------------------------------------------------
-- Visits. Partitioned by month as the seeds describe; every key starts with site_id so the
-- schema can be distributed by site with Citus.
--
-- No foreign key from events to sessions: measured, it cuts COPY from ~110k to ~17k rows/s.
-- The ingest writer guarantees the link instead (the session row is written in the same
-- transaction, before its events); tests check it.

CREATE TABLE sessions (
    site_id            uuid NOT NULL,
    id                 uuid NOT NULL,
    created_month      date NOT NULL CHECK (created_month = date_trunc('month', created_month)),
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_seen_at       timestamptz NOT NULL DEFAULT now(),
    canonical_user_id  uuid,
    fingerprint        text,
    ip_address         inet,
    entry_page         text,
    exit_page          text,
    referrer           text,
    referrer_type      text,
    referrer_domain    text,
    search_query       text,
    utm_source         text,
    utm_medium         text,
    utm_campaign       text,
    utm_term           text,
    utm_content        text,
    gclid              text,
    wbraid             text,
    gbraid             text,
    fbclid             text,
    msclkid            text,
    browser            text,
    browser_version    text,
    os                 text,
    os_version         text,
    device_type        text,
    language           text,
    screen             text,
    timezone           text,
    country_code       text,
    region             text,
    city               text,
    latitude           double precision,
    longitude          double precision,
    page_views         integer NOT NULL DEFAULT 0,
    event_count        integer NOT NULL DEFAULT 0,
    total_duration_sec integer NOT NULL DEFAULT 0,
    is_bounce          boolean NOT NULL DEFAULT true,
    lead_score         integer NOT NULL DEFAULT 0,
    attribution_source text,
    converted          boolean NOT NULL DEFAULT false,
    metadata           jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, id, created_month)
) PARTITION BY RANGE (created_month);

CREATE INDEX sessions_site_created_idx ON sessions (site_id, created_at);
CREATE INDEX sessions_site_fingerprint_idx ON sessions (site_id, fingerprint, last_seen_at)
    WHERE fingerprint IS NOT NULL;

CREATE TABLE events (
    site_id         uuid NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    session_id      uuid NOT NULL,
    session_month   date NOT NULL CHECK (session_month = date_trunc('month', session_month)),
    created_at      timestamptz NOT NULL DEFAULT now(),
    url             text NOT NULL,
    event_category  text NOT NULL CHECK (event_category IN ('acquisition', 'interaction', 'conversion', 'system')),
    event_action    text NOT NULL,
    event_label     text,
    event_value     numeric,
    lead_score      smallint NOT NULL DEFAULT 0,
    client_event_id text,
    metadata        jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, id, session_month)
) PARTITION BY RANGE (session_month);

CREATE INDEX events_site_created_idx ON events (site_id, created_at);
CREATE INDEX events_site_session_idx ON events (site_id, session_id);

CREATE TABLE sessions_default PARTITION OF sessions DEFAULT;
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- ---------------------------------------------------------------------------------------
-- Monthly partitions. Idempotent; rows that landed in a DEFAULT partition for a month
-- that now gets its own partition are moved into it.

CREATE FUNCTION leadtrail.partition_name(parent text, month date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT parent || '_' || to_char(month, 'YYYY_MM')
$$;

CREATE FUNCTION leadtrail.ensure_month_partition(parent text, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    key       text;
    lo        date := date_trunc('month', month)::date;
    hi        date := (date_trunc('month', month) + interval '1 month')::date;
    part      text := leadtrail.partition_name(parent, date_trunc('month', month)::date);
    dflt      text := parent || '_default';
    has_rows  boolean;
BEGIN
    -- Only known parents: names never come from user input.
    key := CASE parent WHEN 'sessions' THEN 'created_month'
                       WHEN 'events' THEN 'session_month' END;
    IF key IS NULL THEN
        RAISE EXCEPTION 'no monthly partitioning for table %', parent;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('leadtrail.partitions'));
    IF to_regclass(format('public.%I', part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%I WHERE %I >= $1 AND %I < $2)', dflt, key, key)
        INTO has_rows USING lo, hi;
    IF NOT has_rows THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                       part, parent, lo, hi);
    ELSE
        EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       part, parent);
        EXECUTE format('WITH moved AS (DELETE FROM public.%I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                       'INSERT INTO public.%I SELECT * FROM moved', dflt, key, key, part) USING lo, hi;
        EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
                       parent, part, lo, hi);
    END IF;
    -- Direct access to a partition would skip the parent's policies: no grants on it, and
    -- RLS forced with no policy as a second wall.
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', part);
    RETURN true;
END
$$;

CREATE FUNCTION leadtrail.ensure_partitions(months_ahead integer DEFAULT 3, months_back integer DEFAULT 0)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    created integer := 0;
    parent  text;
    i       integer;
BEGIN
    FOREACH parent IN ARRAY ARRAY['sessions', 'events'] LOOP
        FOR i IN -months_back..months_ahead LOOP
            IF leadtrail.ensure_month_partition(
                   parent, (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date) THEN
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END
$$;

ALTER TABLE sessions_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions_default FORCE ROW LEVEL SECURITY;
ALTER TABLE events_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE events_default FORCE ROW LEVEL SECURITY;

-- ---------------------------------------------------------------------------------------
-- Row-level security: enabled and forced everywhere; policies compare site_id with the
-- claimed site ids and contain no subqueries.

ALTER TABLE app_users ENABLE ROW LEVEL SECURITY;
ALTER TABLE app_users FORCE ROW LEVEL SECURITY;
ALTER TABLE sites ENABLE ROW LEVEL SECURITY;
ALTER TABLE sites FORCE ROW LEVEL SECURITY;
ALTER TABLE site_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE site_members FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE dashboard_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE dashboard_sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;

-- Tenants see their own sites' rows.
CREATE POLICY tenant ON sites
    USING (id = ANY (leadtrail.site_ids())) WITH CHECK (id = ANY (leadtrail.site_ids()));
CREATE POLICY tenant ON site_members
    USING (site_id = ANY (leadtrail.site_ids())) WITH CHECK (site_id = ANY (leadtrail.site_ids()));
CREATE POLICY own_membership ON site_members FOR SELECT
    USING (user_id = leadtrail.uid());
CREATE POLICY tenant ON api_keys
    USING (site_id = ANY (leadtrail.site_ids())) WITH CHECK (site_id = ANY (leadtrail.site_ids()));
CREATE POLICY tenant ON sessions
    USING (site_id = ANY (leadtrail.site_ids())) WITH CHECK (site_id = ANY (leadtrail.site_ids()));
CREATE POLICY tenant ON events
    USING (site_id = ANY (leadtrail.site_ids())) WITH CHECK (site_id = ANY (leadtrail.site_ids()));
CREATE POLICY self ON app_users FOR SELECT
    USING (id = leadtrail.uid());

-- The auth role resolves credentials before any claim exists: it reads accounts, keys,
-- memberships and sites (restricted by column grants below), records key use and logins.
CREATE POLICY auth_lookup ON app_users TO leadtrail_auth USING (true) WITH CHECK (true);
CREATE POLICY auth_lookup ON sites TO leadtrail_auth USING (true) WITH CHECK (true);
CREATE POLICY auth_lookup ON site_members TO leadtrail_auth USING (true) WITH CHECK (true);
CREATE POLICY auth_lookup ON api_keys TO leadtrail_auth USING (true) WITH CHECK (true);
CREATE POLICY auth_lookup ON dashboard_sessions TO leadtrail_auth USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------------------------------
-- Privileges. Nothing for anon. Ingest may only insert. Analysts read. Admins manage.

GRANT INSERT ON sessions, events TO leadtrail_ingest;

GRANT SELECT ON sites, site_members, api_keys, sessions, events TO leadtrail_analyst;
GRANT SELECT (id, email, name, created_at, last_login_at) ON app_users TO leadtrail_analyst;

GRANT SELECT, INSERT, UPDATE, DELETE ON site_members, api_keys, sessions, events TO leadtrail_admin;
GRANT SELECT, UPDATE ON sites TO leadtrail_admin;
GRANT SELECT (id, email, name, created_at, last_login_at) ON app_users TO leadtrail_admin;

GRANT SELECT (id, email, name, password_hash, is_superuser, disabled_at, created_at, last_login_at),
      UPDATE (last_login_at, password_hash, updated_at) ON app_users TO leadtrail_auth;
GRANT SELECT (id, public_id, name, domain, allowed_origins, settings, timezone) ON sites TO leadtrail_auth;
GRANT SELECT ON site_members TO leadtrail_auth;
GRANT SELECT (site_id, id, prefix, key_hash, scopes, expires_at, revoked_at, last_used_at),
      UPDATE (last_used_at) ON api_keys TO leadtrail_auth;
GRANT SELECT, INSERT, UPDATE, DELETE ON dashboard_sessions TO leadtrail_auth;

-- The ingest writer upserts sessions (counters) and inserts events for the sites named in
-- its claims.
GRANT SELECT, INSERT, UPDATE ON sessions TO leadtrail_writer;
GRANT SELECT, INSERT ON events TO leadtrail_writer;
