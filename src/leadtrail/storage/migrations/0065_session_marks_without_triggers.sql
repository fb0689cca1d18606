-- Changed sessions are marked by their writers, not by statement triggers.
--
-- 0007/0009 marked the (site, hour) of every inserted or updated session in
-- leadtrail.rollup_dirty, and its person in leadtrail.people_dirty, from statement triggers
-- with transition tables. Citus cannot distribute a table that has triggers, and transition
-- tables do not exist on its shards ("could not find named tuplestore"). Every writer of
-- sessions now returns the rows it changed and hands them to this function in the same
-- transaction: the ingest writer, identity resolution, merges and unmerges, leads and calls.
-- Anyone writing sessions with plain SQL must call it too (docs/scaling.md).
--
-- The work queues stay ordinary tables (on Citus: local to the coordinator), so marking
-- never adds a distributed write to the writer's transaction.

DROP TRIGGER IF EXISTS rollup_sessions_inserted ON sessions;
DROP TRIGGER IF EXISTS rollup_sessions_updated ON sessions;
DROP FUNCTION IF EXISTS leadtrail.mark_session_hours();

-- sites[i], created[i], people[i] describe one changed session (or, with created[i] NULL, a
-- person whose sessions changed: the person a session was moved away from). Runs as its
-- owner so any writer of sessions may mark; it writes only the two work queues, and a mark
-- only makes the rollup job or the resolver recompute something.
CREATE FUNCTION leadtrail.mark_sessions_changed(sites uuid[], created timestamptz[], people uuid[])
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO leadtrail.rollup_dirty (site_id, hour)
    SELECT DISTINCT k.site_id, date_trunc('hour', k.created, 'UTC')
    FROM unnest(sites, created) AS k (site_id, created)
    WHERE k.site_id IS NOT NULL AND k.created IS NOT NULL
    ON CONFLICT DO NOTHING;
    INSERT INTO leadtrail.people_dirty (site_id, canonical_user_id)
    SELECT DISTINCT k.site_id, k.person
    FROM unnest(sites, people) AS k (site_id, person)
    WHERE k.site_id IS NOT NULL AND k.person IS NOT NULL
    ON CONFLICT DO NOTHING;
$$;
REVOKE ALL ON FUNCTION leadtrail.mark_sessions_changed(uuid[], timestamptz[], uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION leadtrail.mark_sessions_changed(uuid[], timestamptz[], uuid[])
    TO leadtrail_writer, leadtrail_ingest, leadtrail_admin, leadtrail_analyst;
