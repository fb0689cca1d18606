-- Operations: leader leases with fencing tokens, the scheduler's bookkeeping, heartbeats.
--
-- A lease is one row per name. Taking it over bumps `token`, which never goes down, so a
-- write checked against the token (leadtrail.lease_check) fails for a deposed leader. The
-- check also takes a share lock on the lease row: a candidate's takeover (an UPDATE of that
-- row) waits until the fenced transaction has ended, so a fenced transaction that passed the
-- check commits before anyone else can hold the lease. Time is the database's clock, never
-- a node's. None of these tables carries a site: they live in the leadtrail schema and only
-- the owner connection reads and writes them.

CREATE TABLE leadtrail.leases (
    name         text PRIMARY KEY,
    holder       text NOT NULL,
    token        bigint NOT NULL,
    acquired_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- Take or renew the lease for `ttl` seconds; the fencing token, or NULL while another
-- holder's lease is live. Renewing keeps the token; taking over (or coming back after the
-- lease ran out) increments it.
CREATE FUNCTION leadtrail.lease_acquire(p_name text, p_holder text, p_ttl double precision)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cur leadtrail.leases;
    t timestamptz;
BEGIN
    INSERT INTO leadtrail.leases (name, holder, token, acquired_at, expires_at)
    VALUES (p_name, p_holder, 0, clock_timestamp(), '-infinity')
    ON CONFLICT (name) DO NOTHING;
    SELECT * INTO cur FROM leadtrail.leases WHERE name = p_name FOR UPDATE;
    t := clock_timestamp();  -- after the lock wait
    IF cur.holder = p_holder AND cur.expires_at > t THEN
        UPDATE leadtrail.leases SET expires_at = t + make_interval(secs => p_ttl)
        WHERE name = p_name;
        RETURN cur.token;
    ELSIF cur.expires_at <= t THEN
        UPDATE leadtrail.leases
        SET holder = p_holder, token = cur.token + 1, acquired_at = t,
            expires_at = t + make_interval(secs => p_ttl)
        WHERE name = p_name;
        RETURN cur.token + 1;
    END IF;
    RETURN NULL;
END
$$;

-- Give the lease up at once (clean shutdown), if still held with this token.
CREATE FUNCTION leadtrail.lease_release(p_name text, p_holder text, p_token bigint)
RETURNS boolean LANGUAGE sql AS $$
    UPDATE leadtrail.leases SET expires_at = clock_timestamp()
    WHERE name = p_name AND holder = p_holder AND token = p_token
      AND expires_at > clock_timestamp()
    RETURNING true
$$;

-- The fence: raises SQLSTATE LTF01 unless `p_token` is the live token of `p_name`, and holds
-- a share lock on the lease row until the calling transaction ends. SECURITY DEFINER so
-- that jobs running as a request-path role (the resolver writes as leadtrail_writer) can
-- call it; it reads nothing else.
CREATE FUNCTION leadtrail.lease_check(p_name text, p_token bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, leadtrail AS $$
BEGIN
    PERFORM 1 FROM leadtrail.leases
    WHERE name = p_name AND token = p_token AND expires_at > clock_timestamp()
    FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lease % with token % is no longer held', p_name, p_token
            USING ERRCODE = 'LTF01';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION leadtrail.lease_check(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION leadtrail.lease_check(text, bigint)
    TO leadtrail_writer, leadtrail_admin, leadtrail_ingest;

-- One row per scheduled job: the last period it completed and who ran it.
CREATE TABLE leadtrail.scheduler_jobs (
    job               text PRIMARY KEY,
    interval_seconds  double precision NOT NULL,
    last_period       bigint,
    last_token        bigint,
    last_node         text,
    last_started_at   timestamptz,
    last_finished_at  timestamptz,
    last_duration_ms  double precision,
    runs              bigint NOT NULL DEFAULT 0,
    failures          bigint NOT NULL DEFAULT 0,
    last_error        text,
    last_error_at     timestamptz
);

-- The scheduler's canary (LEADTRAIL_SCHEDULER_PROBE_INTERVAL): one row per period, written
-- under the fence; the key makes a second run of one period fail.
CREATE TABLE leadtrail.scheduler_probe (
    period       bigint PRIMARY KEY,
    token        bigint NOT NULL,
    node         text NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL
);

-- Heartbeats of leadtrail's own components (API server, writer, feed, resolver, rollups,
-- webhook sender, scheduler): process-wide, no site.
CREATE TABLE leadtrail.system_heartbeats (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component_type       text NOT NULL,
    component_id         text NOT NULL,
    component_name       text,
    heartbeat_timestamp  timestamptz NOT NULL DEFAULT clock_timestamp(),
    status               text NOT NULL CHECK (status IN ('healthy', 'degraded', 'unhealthy')),
    cpu_usage            numeric,
    memory_usage         numeric,
    is_leader            boolean NOT NULL DEFAULT false,
    quorum_size          integer,
    quorum_members       text[],
    region               text,
    version              text,
    metrics              jsonb NOT NULL DEFAULT '{}',
    metadata             jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX system_heartbeats_component_idx
    ON leadtrail.system_heartbeats (component_type, component_id, heartbeat_timestamp DESC);
CREATE INDEX system_heartbeats_time_idx ON leadtrail.system_heartbeats (heartbeat_timestamp);

-- Heartbeats posted by a site's own components (the seed's realtime_heartbeats: edge
-- functions, lambdas, service workers) with a site API key. Published for realtime.
CREATE TABLE realtime_heartbeats (
    site_id              uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    component_type       text NOT NULL,
    component_id         text NOT NULL,
    component_name       text,
    heartbeat_timestamp  timestamptz NOT NULL DEFAULT clock_timestamp(),
    status               text NOT NULL CHECK (status IN ('healthy', 'degraded', 'unhealthy')),
    cpu_usage            numeric,
    memory_usage         numeric,
    is_leader            boolean NOT NULL DEFAULT false,
    quorum_size          integer,
    quorum_members       text[],
    region               text,
    version              text,
    metrics              jsonb NOT NULL DEFAULT '{}',
    metadata             jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, id)
);
CREATE INDEX realtime_heartbeats_component_idx
    ON realtime_heartbeats (site_id, component_type, component_id, heartbeat_timestamp DESC);
CREATE INDEX realtime_heartbeats_time_idx ON realtime_heartbeats (heartbeat_timestamp);
ALTER TABLE realtime_heartbeats ENABLE ROW LEVEL SECURITY;
ALTER TABLE realtime_heartbeats FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('realtime_heartbeats');
GRANT SELECT ON realtime_heartbeats TO leadtrail_analyst;
GRANT SELECT, INSERT ON realtime_heartbeats TO leadtrail_admin;
GRANT INSERT ON realtime_heartbeats TO leadtrail_ingest;
SELECT leadtrail.realtime_publish('public.realtime_heartbeats');
