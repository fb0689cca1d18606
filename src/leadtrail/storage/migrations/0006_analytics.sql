-- Analytics: hourly and daily rollups of sessions, HyperLogLog sketches for distinct
-- visitors, the index the rollup job finds changed sessions with, and two helpers the
-- site-management API needs to show members' emails. Design: docs/analytics-api.md.

-- ---------------------------------------------------------------------------------------
-- HyperLogLog in core SQL (no extension: the embedded build has none).
--
-- A sketch has 4096 registers (p = 12, standard error 1.04/sqrt(4096) = 1.6 %). Register
-- value r is stored in unary as 32 bits, r ones then zeros ("thermometer" code), so that
-- the union of sketches is PostgreSQL's own bit_or() aggregate: OR of unary codes is the
-- max of the registers. A sketch is bit(131072), 16 KB, compressed by TOAST (sparse hours
-- take ~1-2 KB).

CREATE TABLE leadtrail.hll_masks (
    -- mask k has bit k of every 32-bit register set: bit_count(sketch & mask_k) is the
    -- number of registers whose value is at least k
    k    integer PRIMARY KEY CHECK (k BETWEEN 1 AND 32),
    mask varbit NOT NULL
);
INSERT INTO leadtrail.hll_masks
SELECT k, repeat(repeat('0', k - 1) || '1' || repeat('0', 32 - k), 4096)::varbit
FROM generate_series(1, 32) AS k;

-- Register value for a 64-bit hash: trailing zeros of its low 52 bits, plus one (cap 32).
CREATE FUNCTION leadtrail.hll_rho(h bigint) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN (h & 4503599627370495) = 0 THEN 32
                ELSE least(32, round(ln(((h & 4503599627370495) & -(h & 4503599627370495))::float8)
                                     / ln(2.0))::integer + 1) END
$$;

-- A sketch of a set of 64-bit hashes (NULL or empty array: the empty sketch).
CREATE FUNCTION leadtrail.hll_sketch(hashes bigint[]) RETURNS varbit
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT rpad(coalesce(string_agg(repeat('0', 32 * (reg - prev - 1)) || rpad(repeat('1', rho), 32, '0'),
                                    '' ORDER BY reg), ''), 131072, '0')::varbit
    FROM (SELECT reg, rho, coalesce(lag(reg) OVER (ORDER BY reg), -1) AS prev
          FROM (SELECT ((h >> 52) & 4095)::integer AS reg, max(leadtrail.hll_rho(h)) AS rho
                FROM unnest(hashes) AS h GROUP BY 1) AS r) AS p
$$;

-- Estimated number of distinct items in a sketch (NULL: 0). Linear counting while many
-- registers are empty, which is near exact for small sets.
CREATE FUNCTION leadtrail.hll_count(sketch varbit) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH c AS (SELECT k, bit_count(sketch & mask) AS n FROM leadtrail.hll_masks),
         s AS (SELECT 4096 - sum(n * 2.0 ^ (-k)) AS z, 4096 - max(n) FILTER (WHERE k = 1) AS v FROM c),
         e AS (SELECT (0.7213 / (1 + 1.079 / 4096)) * 4096.0 * 4096.0 / z AS raw, v FROM s)
    SELECT CASE WHEN sketch IS NULL THEN 0
                WHEN raw <= 2.5 * 4096 AND v > 0 THEN round(4096 * ln(4096.0 / v))::bigint
                ELSE round(raw)::bigint END
    FROM e
$$;

-- Path of a URL for page reports: no scheme, host, query or fragment ('' when absent).
CREATE FUNCTION leadtrail.url_path(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN url IS NULL OR url = '' THEN ''
                ELSE coalesce(nullif(substring(url FROM '^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?([^?#]*)'), ''), '/') END
$$;

-- Who a session belongs to, as a 64-bit hash: the person (canonical user) once identity
-- resolution has run, else the browser fingerprint, else the session itself.
CREATE FUNCTION leadtrail.visitor_hash(s public.sessions) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended(coalesce(s.canonical_user_id::text, 'fp:' || nullif(s.fingerprint, ''),
                                     's:' || s.id::text), 0)
$$;

-- The value of every report dimension for one session: the single definition the rollup
-- job and the raw drill-downs share (names match leadtrail/analytics/dimensions.py).
-- Values are cut to 400 characters to stay within index limits.
CREATE FUNCTION leadtrail.session_dims(s public.sessions, is_returning boolean)
RETURNS TABLE (dim text, value text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES
        ('entry_page', left(leadtrail.url_path(s.entry_page), 400)),
        ('exit_page', left(leadtrail.url_path(s.exit_page), 400)),
        ('referrer', left(lower(coalesce(s.referrer_domain, '')), 400)),
        ('referrer_type', left(coalesce(s.referrer_type, ''), 400)),
        ('search_query', left(lower(btrim(coalesce(s.search_query, ''))), 400)),
        ('utm_source', left(coalesce(s.utm_source, ''), 400)),
        ('utm_medium', left(coalesce(s.utm_medium, ''), 400)),
        ('utm_campaign', left(coalesce(s.utm_campaign, ''), 400)),
        ('click_id', CASE WHEN nullif(s.gclid, '') IS NOT NULL THEN 'gclid'
                          WHEN nullif(s.gbraid, '') IS NOT NULL THEN 'gbraid'
                          WHEN nullif(s.wbraid, '') IS NOT NULL THEN 'wbraid'
                          WHEN nullif(s.msclkid, '') IS NOT NULL THEN 'msclkid'
                          WHEN nullif(s.fbclid, '') IS NOT NULL THEN 'fbclid'
                          ELSE 'none' END),
        ('attribution', left(coalesce(s.attribution_source, ''), 400)),
        ('browser', left(coalesce(s.browser, ''), 400)),
        ('os', left(coalesce(s.os, ''), 400)),
        ('device', left(coalesce(s.device_type, ''), 400)),
        ('country', left(upper(coalesce(s.country_code, '')), 8)),
        ('region', CASE WHEN coalesce(s.country_code, s.region, '') = '' THEN ''
                        ELSE left(upper(coalesce(s.country_code, '')), 8) || chr(31)
                             || left(coalesce(s.region, ''), 190) END),
        ('city', CASE WHEN coalesce(s.country_code, s.region, s.city, '') = '' THEN ''
                      ELSE left(upper(coalesce(s.country_code, '')), 8) || chr(31)
                           || left(coalesce(s.region, ''), 190) || chr(31)
                           || left(coalesce(s.city, ''), 190) END),
        ('visitor_type', CASE WHEN is_returning THEN 'returning' ELSE 'new' END)
$$;

GRANT SELECT ON leadtrail.hll_masks TO leadtrail_analyst, leadtrail_admin, leadtrail_writer;
GRANT EXECUTE ON FUNCTION leadtrail.hll_rho(bigint), leadtrail.hll_sketch(bigint[]),
      leadtrail.hll_count(varbit), leadtrail.url_path(text),
      leadtrail.visitor_hash(public.sessions), leadtrail.session_dims(public.sessions, boolean)
      TO PUBLIC;

-- ---------------------------------------------------------------------------------------
-- Rollups. A session counts in the UTC hour it started (sessions.created_at), with the
-- values it has now: the rollup job re-aggregates whole hours whenever their sessions
-- change (docs/analytics-api.md, "Rollups").

CREATE TABLE rollup_hourly (
    site_id            uuid NOT NULL,
    hour               timestamptz NOT NULL CHECK (hour = date_trunc('hour', hour, 'UTC')),
    sessions           integer NOT NULL,
    new_sessions       integer NOT NULL,
    page_views         bigint NOT NULL,
    events             bigint NOT NULL,
    bounces            integer NOT NULL,
    duration_sec       bigint NOT NULL,
    conversions        integer NOT NULL,
    lead_score_sum     bigint NOT NULL,
    hot_sessions       integer NOT NULL,
    paid_sessions      integer NOT NULL,
    -- HyperLogLog sketches of visitor keys: all, returning, converted
    visitors           varbit NOT NULL,
    returning_visitors varbit NOT NULL,
    converted_visitors varbit NOT NULL,
    refreshed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, hour)
);

-- The same per UTC day (sketches merged), so long ranges read ~24 times fewer rows.
CREATE TABLE rollup_daily (
    site_id            uuid NOT NULL,
    day                date NOT NULL,
    sessions           integer NOT NULL,
    new_sessions       integer NOT NULL,
    page_views         bigint NOT NULL,
    events             bigint NOT NULL,
    bounces            integer NOT NULL,
    duration_sec       bigint NOT NULL,
    conversions        integer NOT NULL,
    lead_score_sum     bigint NOT NULL,
    hot_sessions       integer NOT NULL,
    paid_sessions      integer NOT NULL,
    visitors           varbit NOT NULL,
    returning_visitors varbit NOT NULL,
    converted_visitors varbit NOT NULL,
    PRIMARY KEY (site_id, day)
);

-- One row per (hour, dimension, value). Hierarchical geo values join their parts with
-- U+001F: 'US<US>Texas<US>Austin'. '' stands for "not known".
CREATE TABLE rollup_dim_hourly (
    site_id        uuid NOT NULL,
    dim            text NOT NULL,
    hour           timestamptz NOT NULL,
    value          text NOT NULL,
    sessions       integer NOT NULL,
    page_views     bigint NOT NULL,
    events         bigint NOT NULL,
    bounces        integer NOT NULL,
    duration_sec   bigint NOT NULL,
    conversions    integer NOT NULL,
    lead_score_sum bigint NOT NULL,
    PRIMARY KEY (site_id, dim, hour, value)
);

-- The same summed per UTC day, so long ranges read ~24 times fewer rows.
CREATE TABLE rollup_dim_daily (
    site_id        uuid NOT NULL,
    dim            text NOT NULL,
    day            date NOT NULL,
    value          text NOT NULL,
    sessions       integer NOT NULL,
    page_views     bigint NOT NULL,
    events         bigint NOT NULL,
    bounces        integer NOT NULL,
    duration_sec   bigint NOT NULL,
    conversions    integer NOT NULL,
    lead_score_sum bigint NOT NULL,
    PRIMARY KEY (site_id, dim, day, value)
);

ALTER TABLE rollup_hourly ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_hourly FORCE ROW LEVEL SECURITY;
ALTER TABLE rollup_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_daily FORCE ROW LEVEL SECURITY;
ALTER TABLE rollup_dim_hourly ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_dim_hourly FORCE ROW LEVEL SECURITY;
ALTER TABLE rollup_dim_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_dim_daily FORCE ROW LEVEL SECURITY;

SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY['rollup_hourly', 'rollup_daily', 'rollup_dim_hourly', 'rollup_dim_daily']::regclass[]) AS t;

GRANT SELECT ON rollup_hourly, rollup_daily, rollup_dim_hourly, rollup_dim_daily TO leadtrail_analyst, leadtrail_admin;
-- The rollup job runs as the writer, scoped to one site per transaction.
GRANT SELECT, INSERT, DELETE ON rollup_hourly, rollup_daily, rollup_dim_hourly, rollup_dim_daily TO leadtrail_writer;

-- Progress of the rollup job (upkeep state, reached only through the owner connection).
CREATE TABLE leadtrail.rollup_progress (
    site_id       uuid PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    -- every hour before this has been aggregated at least once (history backfilled)
    backfilled_at timestamptz,
    -- sessions seen until here (last_seen_at) are aggregated
    scanned_to    timestamptz,
    settled_at    timestamptz
);

-- Finds sessions that changed since the last pass (their last_seen_at moves with every
-- batch the writer applies).
CREATE INDEX sessions_last_seen_idx ON sessions (last_seen_at);

-- Hours whose sessions changed person (identity resolution, merges, unmerges) at any age:
-- such updates do not move last_seen_at. The job drains this table on every pass.
CREATE TABLE leadtrail.rollup_dirty (
    site_id uuid NOT NULL,
    hour    timestamptz NOT NULL,
    PRIMARY KEY (site_id, hour)
);

-- Runs as its owner so any role that may update sessions can mark an hour; it writes only
-- this table.
CREATE FUNCTION leadtrail.mark_rollup_dirty() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO leadtrail.rollup_dirty (site_id, hour)
    VALUES (NEW.site_id, date_trunc('hour', NEW.created_at, 'UTC'))
    ON CONFLICT DO NOTHING;
    IF OLD.created_at IS DISTINCT FROM NEW.created_at THEN
        INSERT INTO leadtrail.rollup_dirty (site_id, hour)
        VALUES (OLD.site_id, date_trunc('hour', OLD.created_at, 'UTC'))
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION leadtrail.mark_rollup_dirty() FROM PUBLIC;

-- "UPDATE OF canonical_user_id": statements that do not set the column (the ingest
-- writer's upsert) never fire it.
CREATE TRIGGER rollup_person_changed
    AFTER UPDATE OF canonical_user_id ON sessions
    FOR EACH ROW WHEN (OLD.canonical_user_id IS DISTINCT FROM NEW.canonical_user_id)
    EXECUTE FUNCTION leadtrail.mark_rollup_dirty();

-- ---------------------------------------------------------------------------------------
-- Members of a site with their emails. app_users rows of other people are invisible under
-- RLS (policy "self"), so these run as their owner and apply the tenant check themselves:
-- only sites in the caller's claims. The owner must be a superuser or have BYPASSRLS, as
-- for operator commands (docs/database.md).

CREATE FUNCTION leadtrail.site_member_list(site uuid)
RETURNS TABLE (user_id uuid, email text, name text, role text, created_at timestamptz,
               last_login_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT m.user_id, u.email, u.name, m.role, m.created_at, u.last_login_at
    FROM public.site_members AS m JOIN public.app_users AS u ON u.id = m.user_id
    WHERE m.site_id = site AND leadtrail.site_visible(site)
    ORDER BY u.email
$$;

-- The id of an active account, for adding it to a site the caller manages.
CREATE FUNCTION leadtrail.user_id_by_email(address text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.id FROM public.app_users AS u
    WHERE u.email = lower(btrim(address)) AND u.disabled_at IS NULL
      AND leadtrail.claims() -> 'site_ids' <> '[]'::jsonb
$$;

REVOKE ALL ON FUNCTION leadtrail.site_member_list(uuid), leadtrail.user_id_by_email(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION leadtrail.site_member_list(uuid) TO leadtrail_analyst, leadtrail_admin;
GRANT EXECUTE ON FUNCTION leadtrail.user_id_by_email(text) TO leadtrail_admin;
