-- Realtime: the publication the change feed decodes (pgoutput), the function that adds a
-- table to it, the replay log that makes resuming with `since` exact, and the feed nodes'
-- bookkeeping. See docs/realtime.md.

-- Partitions report as their parent (events_2026_11 -> events).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'leadtrail_realtime') THEN
        CREATE PUBLICATION leadtrail_realtime WITH (publish_via_partition_root = true);
    END IF;
END
$$;

-- Adding a table to the feed is one line in a later migration:
--     SELECT leadtrail.realtime_publish('public.webhooks');
--     SELECT leadtrail.realtime_publish('public.calls', full_identity => true);
-- Only tenant tables can be published: the feed authorises each row by its site_id, the
-- same test as the `tenant` RLS policy. `full_identity` sets REPLICA IDENTITY FULL so
-- UPDATE and DELETE carry every old value (old_record, filters on DELETE); it is refused
-- for partitioned tables because PostgreSQL does not pass it on to partitions created later.
CREATE FUNCTION leadtrail.realtime_publish(tbl regclass, full_identity boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    kind char;
BEGIN
    SELECT relkind INTO kind FROM pg_class WHERE oid = tbl;
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = tbl AND attname = 'site_id' AND NOT attisdropped) THEN
        RAISE EXCEPTION 'realtime: % has no site_id column; only tenant tables can be published', tbl;
    END IF;
    IF full_identity THEN
        IF kind = 'p' THEN
            RAISE EXCEPTION 'realtime: REPLICA IDENTITY FULL is not inherited by new partitions of %', tbl;
        END IF;
        EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', tbl);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
                   WHERE p.pubname = 'leadtrail_realtime' AND pr.prrelid = tbl) THEN
        EXECUTE format('ALTER PUBLICATION leadtrail_realtime ADD TABLE %s', tbl);
    END IF;
END
$$;

-- events and sessions are hot and partitioned: default identity (old_record carries the key,
-- which includes site_id). calls, leads and people change rarely and dashboards want the
-- old values (a call's status before and after).
SELECT leadtrail.realtime_publish('public.events');
SELECT leadtrail.realtime_publish('public.sessions');
SELECT leadtrail.realtime_publish('public.calls', full_identity => true);
SELECT leadtrail.realtime_publish('public.leads', full_identity => true);
SELECT leadtrail.realtime_publish('public.canonical_users', full_identity => true);

-- One row per feed node (one replication slot each): where it stopped and when it was last
-- alive, so another node can drop the slot of a node gone for too long.
CREATE TABLE leadtrail.realtime_nodes (
    slot_name       text PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    seen_at         timestamptz NOT NULL DEFAULT now(),
    -- commit LSN of the last transaction written to the replay log (dedupes after a crash)
    last_commit_lsn bigint NOT NULL DEFAULT 0,
    -- position (reported commit_timestamp) of the last change written to the replay log
    last_position   timestamptz,
    -- changes at or before this position are no longer in the replay log
    pruned_through  timestamptz NOT NULL DEFAULT now()
);

-- Every published change, written in batches by the feed BEFORE it is dispatched and before
-- the slot is confirmed. A rejoining subscriber with `since` is served from here. The
-- position is the change's reported commit_timestamp: unique and increasing per node.
-- Internal (schema leadtrail, no grants): only the owner connection of the feed reads it,
-- and every row goes through the same authorisation as a live change.
CREATE TABLE leadtrail.realtime_log (
    slot_name  text NOT NULL,
    position   timestamptz NOT NULL,
    commit_lsn bigint NOT NULL,
    table_name text NOT NULL,
    site_id    uuid,
    change     bytea NOT NULL,
    PRIMARY KEY (slot_name, position)
);

-- A `since` join reads the log as the subscriber (db.transaction with its claims), so the
-- tenant wall is also enforced by PostgreSQL there. RLS is enabled but not forced: the feed
-- writes and prunes as the owner.
ALTER TABLE leadtrail.realtime_log ENABLE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('leadtrail.realtime_log');
GRANT SELECT ON leadtrail.realtime_log TO leadtrail_analyst, leadtrail_admin;
