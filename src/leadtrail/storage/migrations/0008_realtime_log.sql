-- Realtime: a cheaper replay log and a one-round-trip poll. See docs/realtime.md.
--
-- 0005's log took one row per change (every event insert and every session update), which
-- doubled the write volume of ingest, and the feed then decoded those writes from the WAL
-- as well. Here the log holds one row per (feed batch, site): that site's changes of the
-- batch as one blob of the raw pgoutput messages (decoded only when a `since` join reads
-- them), with the first and last position so a read picks the rows it needs and skips
-- changes inside a row by position. The feed writes it under a replication origin and peeks
-- with origin 'none' (PostgreSQL 16+), so its own writes are not decoded again.

-- The old rows cannot be read by the new feed: replay now starts after what they held.
UPDATE leadtrail.realtime_nodes
SET pruned_through = greatest(pruned_through, coalesce(last_position, pruned_through));
DROP TABLE leadtrail.realtime_log;

-- Changes logged by the node so far: the log is capped by change count, not rows.
ALTER TABLE leadtrail.realtime_nodes ADD COLUMN logged_changes bigint NOT NULL DEFAULT 0;

CREATE TABLE leadtrail.realtime_log (
    site_id        uuid NOT NULL,
    slot_name      text NOT NULL,
    -- position of the last change of the batch (any site): batches never overlap, so
    -- (batch_end, site_id) orders rows and a reader merges one batch's sites by position
    batch_end      timestamptz NOT NULL,
    -- the node's count of logged changes at the end of this batch (for the change cap)
    batch_total    bigint NOT NULL,
    -- positions of this site's first and last change in the batch
    first_position timestamptz NOT NULL,
    last_position  timestamptz NOT NULL,
    changes        integer NOT NULL,
    -- format 1: records of 'R' + u32 length + a pgoutput Relation message (before the first
    -- change of that relation), or 'C' + i64 position (µs since 2000-01-01 UTC) + u32
    -- length + a pgoutput Insert/Update/Delete message. PostgreSQL compresses it (TOAST).
    data           bytea NOT NULL,
    PRIMARY KEY (site_id, slot_name, batch_end)
);
CREATE INDEX realtime_log_batch_idx ON leadtrail.realtime_log (slot_name, batch_end, site_id);

-- A `since` join reads the log as the subscriber (db.transaction with its claims), so the
-- tenant wall is also enforced by PostgreSQL there. RLS is enabled but not forced: the feed
-- writes and prunes as the owner.
ALTER TABLE leadtrail.realtime_log ENABLE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('leadtrail.realtime_log');
GRANT SELECT ON leadtrail.realtime_log TO leadtrail_analyst, leadtrail_admin;

-- One poll of the feed in one round trip: confirm what the previous poll dispatched, write a
-- running-xacts record (so the slot's restart point, and with it the WAL each peek decodes
-- again, stays close), then peek up to the current WAL position, leaving out transactions
-- written under a replication origin (the feed's own log writes) when `skip_origin`. The
-- last row is that position with data NULL: the slot may be confirmed up to it once the
-- rows are handled.
CREATE FUNCTION leadtrail.realtime_poll(
    slot text, confirm bigint, snapshot boolean, max_changes integer, skip_origin boolean
) RETURNS TABLE (lsn bigint, data bytea)
LANGUAGE plpgsql AS $$
DECLARE
    upto pg_lsn;
BEGIN
    IF confirm IS NOT NULL THEN
        PERFORM pg_replication_slot_advance(slot, '0/0'::pg_lsn + confirm::numeric);
    END IF;
    IF snapshot THEN
        PERFORM pg_log_standby_snapshot();
    END IF;
    upto := pg_current_wal_lsn();
    -- Rows applied under another origin (a subscription, an ETL tool) must be delivered:
    -- skip origin-tagged transactions only while leadtrail's feeds are the only origins.
    -- Checked after `upto`, with a newer snapshot, so an origin used by any transaction
    -- committed before `upto` is seen.
    IF skip_origin AND EXISTS (SELECT 1 FROM pg_replication_origin
                               WHERE roname NOT LIKE 'leadtrail\_rt\_%') THEN
        skip_origin := false;
    END IF;
    IF skip_origin THEN
        RETURN QUERY
            SELECT (c.lsn - '0/0'::pg_lsn)::bigint, c.data
            FROM pg_logical_slot_peek_binary_changes(
                slot, upto, max_changes, 'proto_version', '1',
                'publication_names', 'leadtrail_realtime', 'origin', 'none') c;
    ELSE
        RETURN QUERY
            SELECT (c.lsn - '0/0'::pg_lsn)::bigint, c.data
            FROM pg_logical_slot_peek_binary_changes(
                slot, upto, max_changes, 'proto_version', '1',
                'publication_names', 'leadtrail_realtime') c;
    END IF;
    RETURN QUERY SELECT (upto - '0/0'::pg_lsn)::bigint, NULL::bytea;
END
$$;
