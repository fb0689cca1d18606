-- On Citus the change feed streams one slot per node (the coordinator and each worker):
-- the commit LSN of each worker's last transaction in the replay log, by "host:port", so a
-- restarted feed skips what it already logged (last_commit_lsn keeps the coordinator's).
ALTER TABLE leadtrail.realtime_nodes ADD COLUMN stream_lsns jsonb NOT NULL DEFAULT '{}';
