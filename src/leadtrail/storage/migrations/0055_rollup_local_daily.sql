-- The overview per day in the site's own time zone (sketches merged), so a 30-day overview
-- merges 30 visitor sketches per figure instead of 720 hourly ones. rollup_daily holds UTC
-- days, which do not line up with a site's local days unless its zone is UTC.
--
-- A site keeps rows for one zone at a time (tz: the zone they were cut in). The rollup job
-- rewrites the local days of every hour it re-aggregates, drops rows of any other zone, and
-- re-cuts a site's days when its time zone changes; reports use a row only when its zone
-- is the report's and fall back to the hourly rows for local days without one.
CREATE TABLE rollup_local_daily (
    site_id            uuid NOT NULL,
    day                date NOT NULL,
    tz                 text NOT NULL,
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
ALTER TABLE rollup_local_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollup_local_daily FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('rollup_local_daily');
GRANT SELECT ON rollup_local_daily TO leadtrail_analyst, leadtrail_admin;
GRANT SELECT, INSERT, DELETE ON rollup_local_daily TO leadtrail_writer;

-- The zone a site's local days were last cut in (NULL: never), so the job notices a change.
ALTER TABLE leadtrail.rollup_progress ADD COLUMN local_tz text;
