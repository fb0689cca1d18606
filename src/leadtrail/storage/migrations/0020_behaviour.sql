-- Behaviour and friction analytics (seed 001: user_sessions, behavior_events and the
-- friction views), kept current incrementally. Design: docs/behaviour.md.

-- user_sessions: every field of the seed already lives on sessions except how it ended.
ALTER TABLE sessions ADD COLUMN exit_reason text
    CHECK (exit_reason IN ('timeout', 'navigation', 'close', 'refresh'));

-- ---------------------------------------------------------------------------------------
-- Raw behaviour events, monthly partitions keyed like events (the session's month), key
-- led by the session so a session's events share pages. No foreign key (see events).
CREATE TABLE behavior_events (
    site_id         uuid NOT NULL,
    session_id      uuid NOT NULL,
    id              uuid NOT NULL,
    session_month   date NOT NULL CHECK (session_month = date_trunc('month', session_month)),
    created_at      timestamptz NOT NULL,
    event_type      text NOT NULL CHECK (event_type IN (
        'click', 'scroll', 'hover', 'rage_click', 'hesitation', 'form_start', 'form_abandon',
        'form_submit', 'error', 'page_view', 'time_on_element', 'scroll_depth',
        'dead_click', 'quick_back', 'excessive_scroll', 'page_exit')),
    page_url        text NOT NULL,
    page_path       text NOT NULL,
    device_class    text NOT NULL DEFAULT '',
    element_path    text,
    element_type    text,
    element_text    text,
    component_id    text,
    -- {"x", "y"} relative to the element, {"px", "py"} to the page, {"pw", "ph"} page size
    coordinates     jsonb,
    viewport_size   jsonb,
    event_data      jsonb NOT NULL DEFAULT '{}',
    metadata        jsonb NOT NULL DEFAULT '{}',
    client_event_id text,
    PRIMARY KEY (site_id, session_id, id, session_month)
) PARTITION BY RANGE (session_month);
CREATE INDEX behavior_events_site_created_idx ON behavior_events (site_id, created_at);
CREATE TABLE behavior_events_default PARTITION OF behavior_events DEFAULT;
ALTER TABLE behavior_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE behavior_events FORCE ROW LEVEL SECURITY;
ALTER TABLE behavior_events_default ENABLE ROW LEVEL SECURITY;
ALTER TABLE behavior_events_default FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('behavior_events');

-- Monthly partitions for behavior_events (leadtrail.ensure_month_partition only knows the
-- tables of 0001). The behaviour job calls it on start and every pass.
CREATE FUNCTION leadtrail.ensure_behaviour_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    created integer := 0;
    i       integer;
    lo      date;
    part    text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('leadtrail.partitions'));
    FOR i IN 0..months_ahead LOOP
        lo := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
        part := leadtrail.partition_name('behavior_events', lo);
        CONTINUE WHEN to_regclass(format('public.%I', part)) IS NOT NULL;
        -- A month that already has rows in the default partition stays there (rare: rows
        -- only land there when the job has not run for months).
        CONTINUE WHEN EXISTS (SELECT 1 FROM public.behavior_events_default
                              WHERE session_month >= lo AND session_month < (lo + interval '1 month')::date);
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.behavior_events FOR VALUES FROM (%L) TO (%L)',
                       part, lo, (lo + interval '1 month')::date);
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', part);
        EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', part);
        created := created + 1;
    END LOOP;
    RETURN created;
END
$$;
SELECT leadtrail.ensure_behaviour_partitions(3);

-- Days whose behaviour events changed, marked by the ingest writer in the transaction that
-- stored them and drained by the behaviour job (no trigger: DESIGN decision 2).
CREATE TABLE leadtrail.behaviour_dirty (
    site_id uuid NOT NULL,
    day     date NOT NULL,
    PRIMARY KEY (site_id, day)
);
ALTER TABLE leadtrail.behaviour_dirty ENABLE ROW LEVEL SECURITY;
ALTER TABLE leadtrail.behaviour_dirty FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('leadtrail.behaviour_dirty');

-- ---------------------------------------------------------------------------------------
-- Daily rollups (UTC day of the event), re-aggregated whole for every marked day.
-- '' stands for "none" in key columns.

-- Friction points and the click map's element table: one row per element, type and page.
CREATE TABLE behaviour_friction_daily (
    site_id         uuid NOT NULL,
    day             date NOT NULL,
    event_type      text NOT NULL,
    page_path       text NOT NULL,
    element_path    text NOT NULL,
    element_type    text NOT NULL,
    component_id    text NOT NULL,
    events          integer NOT NULL,
    sessions        integer NOT NULL,
    seconds_in_sum  double precision NOT NULL,
    hesitation_sum  bigint NOT NULL,
    hesitation_n    integer NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    PRIMARY KEY (site_id, day, event_type, page_path, element_path, element_type, component_id)
);
-- the click map's element table: one page over a range of days
CREATE INDEX behaviour_friction_daily_page_idx ON behaviour_friction_daily (site_id, page_path, day);

-- Friction points: by element and type across pages (distinct sessions per element, not
-- per element and page), with the pages seen.
CREATE TABLE behaviour_element_daily (
    site_id         uuid NOT NULL,
    day             date NOT NULL,
    event_type      text NOT NULL,
    element_path    text NOT NULL,
    element_type    text NOT NULL,
    events          integer NOT NULL,
    sessions        integer NOT NULL,
    seconds_in_sum  double precision NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    pages           text[] NOT NULL,
    PRIMARY KEY (site_id, day, event_type, element_path, element_type)
);

-- The seed's daily_friction_summary: by day, element and type, with the median hesitation.
CREATE TABLE daily_friction_summary (
    site_id              uuid NOT NULL,
    date                 date NOT NULL,
    element_path         text NOT NULL,
    event_type           text NOT NULL,
    event_count          integer NOT NULL,
    unique_sessions      integer NOT NULL,
    avg_hesitation_ms    double precision,
    median_hesitation_ms double precision,
    form_abandons        integer NOT NULL,
    form_submits         integer NOT NULL,
    PRIMARY KEY (site_id, date, element_path, event_type)
);

-- Click density over page-relative positions (20 columns x 50 rows), per device class.
CREATE TABLE behaviour_grid_daily (
    site_id      uuid NOT NULL,
    day          date NOT NULL,
    page_path    text NOT NULL,
    device_class text NOT NULL,
    event_type   text NOT NULL,
    gx           smallint NOT NULL,
    gy           smallint NOT NULL,
    events       integer NOT NULL,
    -- led by the page: a click map reads one page's cells over a range of days
    PRIMARY KEY (site_id, page_path, day, device_class, event_type, gx, gy)
);

-- Deepest point reached per page view (scroll_depth events), in 10 % steps.
CREATE TABLE behaviour_scroll_daily (
    site_id      uuid NOT NULL,
    day          date NOT NULL,
    page_path    text NOT NULL,
    device_class text NOT NULL,
    depth        smallint NOT NULL,
    views        integer NOT NULL,
    PRIMARY KEY (site_id, day, page_path, device_class, depth)
);

-- The seed's component_performance, per day.
CREATE TABLE behaviour_component_daily (
    site_id        uuid NOT NULL,
    day            date NOT NULL,
    component_id   text NOT NULL,
    page_path      text NOT NULL,
    interactions   integer NOT NULL,
    sessions       integer NOT NULL,
    clicks         integer NOT NULL,
    rage_clicks    integer NOT NULL,
    hesitations    integer NOT NULL,
    hesitation_sum bigint NOT NULL,
    conversions    integer NOT NULL,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    PRIMARY KEY (site_id, day, component_id, page_path)
);

-- Per session and day: the counters of the seed's session_analytics.
CREATE TABLE behaviour_session_daily (
    site_id          uuid NOT NULL,
    day              date NOT NULL,
    session_id       uuid NOT NULL,
    total_events     integer NOT NULL,
    clicks           integer NOT NULL,
    rage_clicks      integer NOT NULL,
    dead_clicks      integer NOT NULL,
    hesitations      integer NOT NULL,
    form_abandons    integer NOT NULL,
    form_submits     integer NOT NULL,
    errors           integer NOT NULL,
    max_scroll_depth double precision,
    PRIMARY KEY (site_id, day, session_id)
);
CREATE INDEX behaviour_session_daily_session_idx ON behaviour_session_daily (site_id, session_id);

-- ---------------------------------------------------------------------------------------
-- User-defined funnels and the seed's conversion_funnels rows (per session and step).
CREATE TABLE funnels (
    site_id        uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    steps          jsonb NOT NULL,
    window_seconds integer NOT NULL CHECK (window_seconds > 0),
    order_mode     text NOT NULL CHECK (order_mode IN ('strict', 'any')),
    count_by       text NOT NULL CHECK (count_by IN ('session', 'person')),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id),
    UNIQUE (site_id, name)
);

CREATE TABLE conversion_funnels (
    site_id          uuid NOT NULL,
    funnel_id        uuid NOT NULL,
    session_id       uuid NOT NULL,
    step_order       integer NOT NULL,
    funnel_name      text NOT NULL,
    step_name        text NOT NULL,
    session_started  timestamptz NOT NULL,
    entered_at       timestamptz NOT NULL,
    exited_at        timestamptz,
    duration_seconds integer,
    dropoff_reason   text,
    metadata         jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, funnel_id, session_id, step_order)
);
-- Covers the funnel report (an index-only scan of the range).
CREATE INDEX conversion_funnels_started_idx ON conversion_funnels (site_id, funnel_id, session_started)
    INCLUDE (step_order, dropoff_reason, duration_seconds);

-- How far the funnel job has looked at sessions (last_seen_at), per site.
CREATE TABLE leadtrail.funnel_progress (
    site_id    uuid PRIMARY KEY REFERENCES sites (id) ON DELETE CASCADE,
    scanned_to timestamptz NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['behaviour_friction_daily', 'behaviour_element_daily', 'daily_friction_summary', 'behaviour_grid_daily',
                             'behaviour_scroll_daily', 'behaviour_component_daily',
                             'behaviour_session_daily', 'funnels', 'conversion_funnels',
                             'leadtrail.funnel_progress'] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        PERFORM leadtrail.apply_tenant_policy(t::regclass);
    END LOOP;
END
$$;

-- The seed's user_sessions, over sessions (RLS applies: security_invoker).
CREATE VIEW user_sessions WITH (security_invoker = true) AS
SELECT s.site_id, s.id AS session_id, s.browser || ' / ' || s.os AS user_agent, s.referrer,
       s.entry_page AS landing_page, s.exit_page,
       coalesce(s.exit_reason, CASE WHEN s.last_seen_at < now() - interval '30 minutes'
                                    THEN 'timeout' END) AS exit_reason,
       s.device_type, s.screen AS screen_resolution, s.language, s.country_code,
       s.created_at, s.last_seen_at AS updated_at, s.total_duration_sec AS duration_seconds,
       greatest(s.page_views, 1) AS page_count
FROM sessions s;

GRANT SELECT ON behavior_events, behaviour_friction_daily, behaviour_element_daily, daily_friction_summary,
      behaviour_grid_daily, behaviour_scroll_daily, behaviour_component_daily,
      behaviour_session_daily, funnels, conversion_funnels, user_sessions
      TO leadtrail_analyst, leadtrail_admin;
GRANT INSERT, UPDATE, DELETE ON funnels TO leadtrail_admin;
GRANT DELETE ON conversion_funnels TO leadtrail_admin;
GRANT SELECT, INSERT ON behavior_events TO leadtrail_writer;
GRANT SELECT, INSERT, DELETE ON leadtrail.behaviour_dirty TO leadtrail_writer;
GRANT SELECT, INSERT, DELETE ON behaviour_friction_daily, behaviour_element_daily, daily_friction_summary,
      behaviour_grid_daily, behaviour_scroll_daily, behaviour_component_daily,
      behaviour_session_daily, conversion_funnels TO leadtrail_writer;
GRANT SELECT ON funnels, leads, calls TO leadtrail_writer;
GRANT SELECT, INSERT, UPDATE ON leadtrail.funnel_progress TO leadtrail_writer;
