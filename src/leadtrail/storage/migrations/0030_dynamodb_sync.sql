-- DynamoDB sync (seed 002): mirror tables for the nine source tables, the sync's own
-- bookkeeping (stream checkpoints, import progress, tombstones, dead letters) and the
-- flattened firespring_visitors_detailed view. See docs/sync.md.
--
-- Every mirror table has the same bookkeeping columns after its own:
--   item         the source item as JSON (DynamoDB types unmarshalled)
--   src_version  the item's own version field in epoch ms (config `version`), 0 if none
--   src_time     the stream record's ApproximateCreationDateTime in epoch ms (0: a scan)
--   src_seq      the stream record's SequenceNumber (0: a scan or export)
--   deleted_at   set by a REMOVE on tables configured with delete = "soft"
-- A change is applied only when (src_version, src_time, src_seq) is greater than the
-- stored one, so duplicates, redeliveries and reordered batches end in the state that
-- ordered delivery gives. No triggers (DESIGN decision 2): the sync code writes directly.

CREATE TABLE firespring_visitors (
    site_id           uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    visitor_id        text NOT NULL,
    page_views        integer,
    actions_count     integer,
    duration_seconds  integer,
    visit_started_at  timestamptz,
    last_visit_at     timestamptz,
    ip_address        text,
    organization      text,
    browser           text,
    os                text,
    device            text,
    referrer          text,
    referrer_type     text,
    referrer_domain   text,
    search_query      text,
    landing_page      text,
    exit_page         text,
    city              text,
    region            text,
    country           text,
    country_code      text,
    latitude          double precision,
    longitude         double precision,
    created_at        timestamptz,
    item              jsonb NOT NULL,
    src_version       bigint NOT NULL DEFAULT 0,
    src_time          bigint NOT NULL DEFAULT 0,
    src_seq           numeric NOT NULL DEFAULT 0,
    deleted_at        timestamptz,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, visitor_id)
);

CREATE TABLE firespring_actions (
    site_id      uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    action_id    text NOT NULL,
    action_type  text,
    visitor_id   text,
    page_url     text,
    occurred_at  timestamptz,
    action_data  jsonb,
    item         jsonb NOT NULL,
    src_version  bigint NOT NULL DEFAULT 0,
    src_time     bigint NOT NULL DEFAULT 0,
    src_seq      numeric NOT NULL DEFAULT 0,
    deleted_at   timestamptz,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, action_id)
);
CREATE INDEX firespring_actions_visitor_idx ON firespring_actions (site_id, visitor_id);

CREATE TABLE firespring_extraction_jobs (
    site_id            uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    job_id             text NOT NULL,
    status             text,
    job_type           text,
    records_extracted  integer,
    started_at         timestamptz,
    updated_at         timestamptz,
    completed_at       timestamptz,
    item               jsonb NOT NULL,
    src_version        bigint NOT NULL DEFAULT 0,
    src_time           bigint NOT NULL DEFAULT 0,
    src_seq            numeric NOT NULL DEFAULT 0,
    deleted_at         timestamptz,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, job_id)
);

CREATE TABLE firespring_traffic_sources (
    site_id      uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    source_id    text NOT NULL,
    source_type  text,
    source_name  text,
    visits       integer,
    recorded_at  timestamptz,
    item         jsonb NOT NULL,
    src_version  bigint NOT NULL DEFAULT 0,
    src_time     bigint NOT NULL DEFAULT 0,
    src_seq      numeric NOT NULL DEFAULT 0,
    deleted_at   timestamptz,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, source_id)
);

CREATE TABLE firespring_segments (
    site_id           uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    segment_id        text NOT NULL,
    segment_name      text,
    member_count      integer,
    segment_criteria  jsonb,
    item              jsonb NOT NULL,
    src_version       bigint NOT NULL DEFAULT 0,
    src_time          bigint NOT NULL DEFAULT 0,
    src_seq           numeric NOT NULL DEFAULT 0,
    deleted_at        timestamptz,
    synced_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, segment_id)
);

CREATE TABLE firespring_searches (
    site_id        uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    search_id      text NOT NULL,
    query          text,
    visitor_id     text,
    results_count  integer,
    searched_at    timestamptz,
    item           jsonb NOT NULL,
    src_version    bigint NOT NULL DEFAULT 0,
    src_time       bigint NOT NULL DEFAULT 0,
    src_seq        numeric NOT NULL DEFAULT 0,
    deleted_at     timestamptz,
    synced_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, search_id)
);

CREATE TABLE firespring_network_state (
    site_id      uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    state_key    text NOT NULL,
    state        jsonb,
    updated_at   timestamptz,
    item         jsonb NOT NULL,
    src_version  bigint NOT NULL DEFAULT 0,
    src_time     bigint NOT NULL DEFAULT 0,
    src_seq      numeric NOT NULL DEFAULT 0,
    deleted_at   timestamptz,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, state_key)
);

CREATE TABLE mmp_toledo_leads (
    site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    lead_id       text NOT NULL,
    name          text,
    email         text,
    phone         text,
    company       text,
    message       text,
    form_type     text,
    submitted_at  timestamptz,
    updated_at    timestamptz,
    item          jsonb NOT NULL,
    src_version   bigint NOT NULL DEFAULT 0,
    src_time      bigint NOT NULL DEFAULT 0,
    src_seq       numeric NOT NULL DEFAULT 0,
    deleted_at    timestamptz,
    synced_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, lead_id)
);

CREATE TABLE toledo_dashboard (
    site_id      uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    record_id    text NOT NULL,
    metric       text,
    data         jsonb,
    updated_at   timestamptz,
    item         jsonb NOT NULL,
    src_version  bigint NOT NULL DEFAULT 0,
    src_time     bigint NOT NULL DEFAULT 0,
    src_seq      numeric NOT NULL DEFAULT 0,
    deleted_at   timestamptz,
    synced_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, record_id)
);

-- A REMOVE on a table with delete = "hard" deletes the mirror row and leaves its order
-- here, so an older INSERT/MODIFY delivered late cannot bring the row back.
CREATE TABLE leadtrail.sync_tombstones (
    site_id      uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    target       text NOT NULL,
    key          text NOT NULL,
    src_version  bigint NOT NULL,
    src_time     bigint NOT NULL,
    src_seq      numeric NOT NULL,
    PRIMARY KEY (site_id, target, key)
);

-- Where each stream shard was read up to. Written in the same transaction as the rows of
-- the records it covers, so a crash never loses or replays applied work.
CREATE TABLE leadtrail.sync_checkpoints (
    site_id          uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    stream_arn       text NOT NULL,
    shard_id         text NOT NULL,
    parent_shard_id  text,
    sequence_number  text,
    -- the shard has no more records (closed and read to its end)
    finished         boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, stream_arn, shard_id)
);

-- Progress of a parallel Scan import, per segment: resumable after an interruption.
CREATE TABLE leadtrail.sync_import_progress (
    site_id          uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    source_table     text NOT NULL,
    segment          integer NOT NULL,
    total_segments   integer NOT NULL,
    last_key         jsonb,
    rows_read        bigint NOT NULL DEFAULT 0,
    finished         boolean NOT NULL DEFAULT false,
    started_ms       bigint NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, source_table, segment)
);

-- Records that failed to transform: the raw record and why, for `leadtrail sync dlq`.
CREATE TABLE leadtrail.sync_dead_letters (
    site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    source_table  text NOT NULL,
    event_id      text,
    record        jsonb NOT NULL,
    reason        text NOT NULL,
    attempts      integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);

SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY[
    'firespring_visitors', 'firespring_actions', 'firespring_extraction_jobs',
    'firespring_traffic_sources', 'firespring_segments', 'firespring_searches',
    'firespring_network_state', 'mmp_toledo_leads', 'toledo_dashboard',
    'leadtrail.sync_tombstones', 'leadtrail.sync_checkpoints',
    'leadtrail.sync_import_progress', 'leadtrail.sync_dead_letters'
]::regclass[]) AS t;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'firespring_visitors', 'firespring_actions', 'firespring_extraction_jobs',
        'firespring_traffic_sources', 'firespring_segments', 'firespring_searches',
        'firespring_network_state', 'mmp_toledo_leads', 'toledo_dashboard',
        'leadtrail.sync_tombstones', 'leadtrail.sync_checkpoints',
        'leadtrail.sync_import_progress', 'leadtrail.sync_dead_letters'
    ] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;

GRANT SELECT ON firespring_visitors, firespring_actions, firespring_extraction_jobs,
    firespring_traffic_sources, firespring_segments, firespring_searches,
    firespring_network_state, mmp_toledo_leads, toledo_dashboard
    TO leadtrail_analyst, leadtrail_admin;
-- The sync runs as the writer, scoped to one site per transaction.
GRANT SELECT, INSERT, UPDATE, DELETE ON firespring_visitors, firespring_actions,
    firespring_extraction_jobs, firespring_traffic_sources, firespring_segments,
    firespring_searches, firespring_network_state, mmp_toledo_leads, toledo_dashboard,
    leadtrail.sync_tombstones, leadtrail.sync_checkpoints, leadtrail.sync_import_progress,
    leadtrail.sync_dead_letters
    TO leadtrail_writer;
GRANT SELECT ON leadtrail.sync_dead_letters, leadtrail.sync_checkpoints TO leadtrail_admin;

-- Synced rows reach realtime subscribers like any other change.
SELECT leadtrail.realtime_publish('public.firespring_visitors');
SELECT leadtrail.realtime_publish('public.firespring_actions');
SELECT leadtrail.realtime_publish('public.mmp_toledo_leads');

-- Seed 002's flattened visitors view: one row per live visitor session, with the nested
-- session data expanded. security_invoker keeps the caller's RLS in force.
CREATE VIEW firespring_visitors_detailed WITH (security_invoker = true) AS
SELECT
    v.site_id,
    v.visitor_id,
    v.visit_started_at AS session_start,
    v.last_visit_at,
    v.duration_seconds AS session_duration_seconds,
    v.page_views,
    v.actions_count,
    (v.page_views IS NOT NULL AND v.page_views <= 1) AS is_bounce,
    coalesce(v.ip_address, v.item ->> 'ip_address') AS ip_address,
    coalesce(v.organization, v.item ->> 'organization') AS organization,
    v.browser,
    v.os,
    coalesce(v.device, v.item ->> 'device') AS device,
    v.referrer,
    v.referrer_type,
    v.referrer_domain,
    v.search_query,
    v.landing_page,
    v.exit_page,
    v.city,
    v.region AS state,
    v.country,
    lower(coalesce(v.country_code, v.item ->> 'country_code')) AS country_code,
    v.latitude,
    v.longitude,
    v.item ->> 'screen_resolution' AS screen_resolution,
    v.item ->> 'language' AS language,
    v.item ->> 'user_agent' AS user_agent,
    v.created_at
FROM firespring_visitors v
WHERE v.deleted_at IS NULL;
GRANT SELECT ON firespring_visitors_detailed TO leadtrail_analyst, leadtrail_admin, leadtrail_writer;
