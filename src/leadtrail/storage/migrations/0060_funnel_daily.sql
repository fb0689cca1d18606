-- Funnel reports per day (docs/behaviour.md "Funnels"): per funnel, UTC day the session
-- started, step, drop-off reason ('' = went on or last step) and the breakdown dimensions,
-- the number of conversion_funnels rows; and the time to the next step of the rows that
-- went on, as exact counts per whole second (the median stays exact). Kept by the statements
-- that replace a session's conversion_funnels rows (deltas in the same statement, no
-- trigger: DESIGN decision 2), so a 30-day report reads at most 30 days of small rows.
CREATE TABLE funnel_step_daily (
    site_id    uuid NOT NULL,
    funnel_id  uuid NOT NULL,
    day        date NOT NULL,
    step_order integer NOT NULL,
    reason     text NOT NULL,
    channel    text NOT NULL,
    device     text NOT NULL,
    campaign   text NOT NULL,
    sessions   bigint NOT NULL,
    PRIMARY KEY (site_id, funnel_id, day, step_order, reason, channel, device, campaign)
);

CREATE TABLE funnel_duration_daily (
    site_id    uuid NOT NULL,
    funnel_id  uuid NOT NULL,
    day        date NOT NULL,
    step_order integer NOT NULL,
    seconds    integer NOT NULL,
    sessions   bigint NOT NULL,
    PRIMARY KEY (site_id, funnel_id, day, step_order, seconds)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['funnel_step_daily', 'funnel_duration_daily'] LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
        PERFORM leadtrail.apply_tenant_policy(t::regclass);
    END LOOP;
END
$$;

-- The rows that exist already.
INSERT INTO funnel_step_daily
SELECT site_id, funnel_id, (session_started AT TIME ZONE 'UTC')::date, step_order,
       coalesce(dropoff_reason, ''), coalesce(metadata ->> 'channel', ''),
       coalesce(metadata ->> 'device', ''), coalesce(metadata ->> 'campaign', ''), count(*)
FROM conversion_funnels
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
INSERT INTO funnel_duration_daily
SELECT site_id, funnel_id, (session_started AT TIME ZONE 'UTC')::date, step_order,
       duration_seconds, count(*)
FROM conversion_funnels
WHERE dropoff_reason IS NULL AND duration_seconds IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;

GRANT SELECT ON funnel_step_daily, funnel_duration_daily TO leadtrail_analyst, leadtrail_admin;
GRANT DELETE ON funnel_step_daily, funnel_duration_daily TO leadtrail_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON funnel_step_daily, funnel_duration_daily TO leadtrail_writer;
