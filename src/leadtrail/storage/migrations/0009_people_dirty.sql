-- People whose sessions changed, for the identity resolver's totals refresh.
--
-- The resolver used to find them by scanning a day of each site's sessions every second
-- (created_at index, filtered on last_seen_at): at ingest rates that scan dominated
-- PostgreSQL's CPU. The statement triggers of 0007 already see every inserted or updated
-- session; they now also mark its person here, and the resolver drains the marks.

CREATE TABLE leadtrail.people_dirty (
    site_id           uuid NOT NULL,
    canonical_user_id uuid NOT NULL,
    PRIMARY KEY (site_id, canonical_user_id)
);
-- The resolver runs as the writer role, scoped to one site.
GRANT SELECT, DELETE ON leadtrail.people_dirty TO leadtrail_writer;

CREATE OR REPLACE FUNCTION leadtrail.mark_session_hours() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO leadtrail.rollup_dirty (site_id, hour)
        SELECT site_id, date_trunc('hour', created_at, 'UTC') FROM changed_new
        UNION
        SELECT site_id, date_trunc('hour', created_at, 'UTC') FROM changed_old
        ON CONFLICT DO NOTHING;
        INSERT INTO leadtrail.people_dirty (site_id, canonical_user_id)
        SELECT site_id, canonical_user_id FROM changed_new WHERE canonical_user_id IS NOT NULL
        UNION
        SELECT site_id, canonical_user_id FROM changed_old WHERE canonical_user_id IS NOT NULL
        ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO leadtrail.rollup_dirty (site_id, hour)
        SELECT DISTINCT site_id, date_trunc('hour', created_at, 'UTC') FROM changed_new
        ON CONFLICT DO NOTHING;
        INSERT INTO leadtrail.people_dirty (site_id, canonical_user_id)
        SELECT DISTINCT site_id, canonical_user_id FROM changed_new WHERE canonical_user_id IS NOT NULL
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
