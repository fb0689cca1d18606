-- Ingest hot path: session updates that stay HOT, and rollup hours marked by statement
-- triggers instead of an index.
--
-- The writer updates every session it touches once per batch (last_seen_at, exit page,
-- counters). An index on a column that changes makes each such update write a new entry in
-- every index of the table (8 on sessions); without one, and with free room in the page,
-- PostgreSQL updates the row inside its page (a HOT update) and touches no index. 0006
-- indexed last_seen_at so the rollup job could find changed sessions. Instead, statement-level
-- triggers with transition tables mark the (site, hour) of every inserted or updated session
-- in leadtrail.rollup_dirty, once per statement (one upsert per writer batch), whoever the
-- writer is: the ingest writer, identity resolution, leads and calls, plain SQL.

DROP INDEX IF EXISTS sessions_last_seen_idx;

-- Runs as its owner so any role that may write sessions can mark hours; it writes only
-- leadtrail.rollup_dirty.
CREATE FUNCTION leadtrail.mark_session_hours() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO leadtrail.rollup_dirty (site_id, hour)
        SELECT site_id, date_trunc('hour', created_at, 'UTC') FROM changed_new
        UNION
        SELECT site_id, date_trunc('hour', created_at, 'UTC') FROM changed_old
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO leadtrail.rollup_dirty (site_id, hour)
        SELECT DISTINCT site_id, date_trunc('hour', created_at, 'UTC') FROM changed_new
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION leadtrail.mark_session_hours() FROM PUBLIC;

CREATE TRIGGER rollup_sessions_inserted
    AFTER INSERT ON sessions REFERENCING NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION leadtrail.mark_session_hours();
CREATE TRIGGER rollup_sessions_updated
    AFTER UPDATE ON sessions REFERENCING OLD TABLE AS changed_old NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION leadtrail.mark_session_hours();

-- The row trigger of 0006 (person changes only) is covered by the update trigger.
DROP TRIGGER IF EXISTS rollup_person_changed ON sessions;

CREATE OR REPLACE FUNCTION leadtrail.ensure_month_partition(parent text, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    key       text;
    lo        date := date_trunc('month', month)::date;
    hi        date := (date_trunc('month', month) + interval '1 month')::date;
    part      text := leadtrail.partition_name(parent, date_trunc('month', month)::date);
    dflt      text := parent || '_default';
    has_rows  boolean;
BEGIN
    -- Only known parents: names never come from user input.
    key := CASE parent WHEN 'sessions' THEN 'created_month'
                       WHEN 'events' THEN 'session_month' END;
    IF key IS NULL THEN
        RAISE EXCEPTION 'no monthly partitioning for table %', parent;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('leadtrail.partitions'));
    IF to_regclass(format('public.%I', part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%I WHERE %I >= $1 AND %I < $2)', dflt, key, key)
        INTO has_rows USING lo, hi;
    IF NOT has_rows THEN
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                       part, parent, lo, hi);
    ELSE
        EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       part, parent);
        EXECUTE format('WITH moved AS (DELETE FROM public.%I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                       'INSERT INTO public.%I SELECT * FROM moved', dflt, key, key, part) USING lo, hi;
        EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
                       parent, part, lo, hi);
    END IF;
    -- Direct access to a partition would skip the parent's policies: no grants on it, and
    -- RLS forced with no policy as a second wall.
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('ALTER TABLE public.%I FORCE ROW LEVEL SECURITY', part);
    IF parent = 'sessions' THEN
        -- Room in each page for the writer's per-batch updates to stay HOT.
        EXECUTE format('ALTER TABLE public.%I SET (fillfactor = %s)', part, 80);
    END IF;
    RETURN true;
END
$$;

DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'public.sessions'::regclass LOOP
        EXECUTE format('ALTER TABLE %s SET (fillfactor = 80)', part);
    END LOOP;
END
$$;
