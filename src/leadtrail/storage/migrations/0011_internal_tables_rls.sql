-- Row-level security on leadtrail's internal per-site tables too.
--
-- The work queues of the rollup job and the identity resolver, the rollup job's progress
-- and the realtime replay log all carry a site id. They are written by SECURITY DEFINER
-- triggers and read through the owner connection (which must be a superuser or have
-- BYPASSRLS, see docs/database.md), except people_dirty, which the resolver drains as the
-- writer role scoped to one site. Forcing the tenant policy on all of them means no role
-- of the request path can ever read or delete another site's rows there either.

SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY[
    'leadtrail.people_dirty', 'leadtrail.rollup_dirty', 'leadtrail.rollup_progress'
]::regclass[]) AS t;

ALTER TABLE leadtrail.people_dirty ENABLE ROW LEVEL SECURITY;
ALTER TABLE leadtrail.people_dirty FORCE ROW LEVEL SECURITY;
ALTER TABLE leadtrail.rollup_dirty ENABLE ROW LEVEL SECURITY;
ALTER TABLE leadtrail.rollup_dirty FORCE ROW LEVEL SECURITY;
ALTER TABLE leadtrail.rollup_progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE leadtrail.rollup_progress FORCE ROW LEVEL SECURITY;
ALTER TABLE leadtrail.realtime_log FORCE ROW LEVEL SECURITY;

-- The rollup job clears the marks of the hours it re-aggregates, in the same writer
-- transaction (otherwise marks left by a backfill's own sessions, e.g. a bulk load, made the
-- next pass re-aggregate the whole history again).
GRANT SELECT, DELETE ON leadtrail.rollup_dirty TO leadtrail_writer;
