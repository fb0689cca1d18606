-- Realtime: the change feed streams its slot over the replication protocol (issue 18,
-- docs/realtime.md), so the one-round-trip poll function of 0008 has no caller any more.
DROP FUNCTION IF EXISTS leadtrail.realtime_poll(text, bigint, boolean, integer, boolean);
