-- Heartbeats and the seed's get_system_health(). See 0035_operations.sql.

-- name: insert_system
INSERT INTO leadtrail.system_heartbeats (component_type, component_id, component_name, status,
                                         cpu_usage, memory_usage, is_leader, quorum_size,
                                         quorum_members, region, version, metrics, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING heartbeat_timestamp

-- name: insert_site
INSERT INTO realtime_heartbeats (site_id, component_type, component_id, component_name, status,
                                 cpu_usage, memory_usage, is_leader, quorum_size,
                                 quorum_members, region, version, metrics, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id, heartbeat_timestamp

-- name: system_health
-- The latest beat of every leadtrail component, dead when older than $1 seconds.
SELECT DISTINCT ON (component_type, component_id)
       NULL::uuid AS site_id, component_type, component_id, component_name, status,
       heartbeat_timestamp, is_leader, region, version, metrics,
       extract(epoch FROM clock_timestamp() - heartbeat_timestamp)::float8 AS seconds_since,
       heartbeat_timestamp < clock_timestamp() - make_interval(secs => $1) AS is_dead
FROM leadtrail.system_heartbeats
ORDER BY component_type, component_id, heartbeat_timestamp DESC

-- name: site_health
-- The same for the components of the sites in the caller's claims (RLS applies).
SELECT DISTINCT ON (site_id, component_type, component_id)
       site_id, component_type, component_id, component_name, status,
       heartbeat_timestamp, is_leader, region, version, metrics,
       extract(epoch FROM clock_timestamp() - heartbeat_timestamp)::float8 AS seconds_since,
       heartbeat_timestamp < clock_timestamp() - make_interval(secs => $1) AS is_dead
FROM realtime_heartbeats
ORDER BY site_id, component_type, component_id, heartbeat_timestamp DESC

-- name: cleanup_system
-- Beats older than $1 seconds go, except each component's latest (so a dead component stays
-- visible as dead) unless that too is older than $2 seconds.
DELETE FROM leadtrail.system_heartbeats h
WHERE h.heartbeat_timestamp < clock_timestamp() - make_interval(secs => $1)
  AND (h.heartbeat_timestamp < clock_timestamp() - make_interval(secs => $2)
       OR EXISTS (SELECT 1 FROM leadtrail.system_heartbeats n
                  WHERE n.component_type = h.component_type
                    AND n.component_id = h.component_id
                    AND n.heartbeat_timestamp > h.heartbeat_timestamp))

-- name: cleanup_site
-- now(), not clock_timestamp(): Citus refuses volatile functions in a DELETE's WHERE.
DELETE FROM realtime_heartbeats h
WHERE h.heartbeat_timestamp < now() - make_interval(secs => $1)
  AND (h.heartbeat_timestamp < now() - make_interval(secs => $2)
       OR EXISTS (SELECT 1 FROM realtime_heartbeats n
                  WHERE n.site_id = h.site_id
                    AND n.component_type = h.component_type
                    AND n.component_id = h.component_id
                    AND n.heartbeat_timestamp > h.heartbeat_timestamp))

-- name: cleanup_probe
DELETE FROM leadtrail.scheduler_probe WHERE finished_at < clock_timestamp() - make_interval(secs => $1)
