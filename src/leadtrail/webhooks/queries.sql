-- Webhooks: outbox writes, fan-out, delivery claims and results, endpoint management.
-- See 0036_webhooks.sql.

-- name: emit
-- Only when an enabled endpoint of the site subscribes to the event type (no row, no cost,
-- for the facts nobody wants).
INSERT INTO webhook_outbox (site_id, id, event_type, payload)
SELECT $1, coalesce($2, gen_random_uuid()), $3, $4
WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
              WHERE e.site_id = $1 AND e.enabled AND $3 = ANY (e.events))
ON CONFLICT DO NOTHING

-- name: emit_many
INSERT INTO webhook_outbox (site_id, id, event_type, payload)
SELECT k.site_id, k.id, k.event_type, p.data
FROM unnest($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS k (site_id, id, event_type, n)
JOIN jsonb_array_elements($4::jsonb) WITH ORDINALITY AS p (data, n) ON p.n = k.n
WHERE EXISTS (SELECT 1 FROM webhook_endpoints e
              WHERE e.site_id = k.site_id AND e.enabled AND k.event_type = ANY (e.events))
ON CONFLICT DO NOTHING

-- name: fan_out
-- Move up to $1 outbox rows into one delivery per subscribed, enabled endpoint. The
-- delivery id (webhook-id) is derived from (endpoint, event): emitting or moving the same
-- event twice adds nothing.
WITH taken AS (
    DELETE FROM webhook_outbox o
    USING (SELECT site_id, id FROM webhook_outbox ORDER BY created_at LIMIT $1
           FOR UPDATE SKIP LOCKED) t
    WHERE o.site_id = t.site_id AND o.id = t.id
    RETURNING o.site_id, o.id, o.event_type, o.payload, o.created_at
), added AS (
    INSERT INTO webhook_deliveries (site_id, id, endpoint_id, event_id, event_type, payload,
                                    next_attempt_at, event_at, window_start)
    SELECT t.site_id, md5(e.id::text || ':' || t.id::text)::uuid, e.id, t.id, t.event_type,
           t.payload, statement_timestamp(), t.created_at, t.created_at
    FROM taken t
    JOIN webhook_endpoints e ON e.site_id = t.site_id AND e.enabled AND t.event_type = ANY (e.events)
    ON CONFLICT (site_id, id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM taken) AS taken, (SELECT count(*) FROM added) AS added

-- name: due
-- Pending deliveries whose time has come, oldest first.
SELECT site_id, id, endpoint_id
FROM webhook_deliveries
WHERE status = 'pending' AND next_attempt_at <= clock_timestamp()
ORDER BY next_attempt_at
LIMIT $1

-- name: probe
-- The idle sender's one read: any outbox row, and when the next pending delivery is due.
SELECT EXISTS (SELECT 1 FROM webhook_outbox) AS outbox,
       (SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending') AS due

-- name: claim
-- Take deliveries for one attempt: hidden from `due` for $3 seconds, after which another
-- leader retries them if this one died mid-request. The writes here use
-- statement_timestamp(), not clock_timestamp(): on Citus these tables are Citus-local
-- (they reference the `sites` reference table) and Citus refuses volatile functions in
-- their UPDATEs; each statement runs on its own, so the two agree to the statement.
UPDATE webhook_deliveries d
SET next_attempt_at = statement_timestamp() + make_interval(secs => $3)
FROM unnest($1::uuid[], $2::uuid[]) AS k (site_id, id)
WHERE d.site_id = k.site_id AND d.id = k.id
  AND d.status = 'pending' AND d.next_attempt_at <= statement_timestamp()
RETURNING d.site_id, d.id, d.endpoint_id, d.event_type, d.payload, d.event_at, d.window_start,
          d.attempts

-- name: endpoints
SELECT site_id, id, url, format, secret_ciphertext, max_concurrency, enabled
FROM webhook_endpoints

-- name: delivered
UPDATE webhook_deliveries
SET status = 'delivered', attempts = attempts + 1, last_attempt_at = $3, delivered_at = statement_timestamp(),
    last_status = $4, last_error = NULL
WHERE site_id = $1 AND id = $2 AND status = 'pending'

-- name: failed
-- $5 NULL: give up (dead letter); else retry at $5.
UPDATE webhook_deliveries
SET status = CASE WHEN $5::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
    next_attempt_at = coalesce($5, next_attempt_at),
    attempts = attempts + 1, last_attempt_at = $3, last_status = $4, last_error = $6
WHERE site_id = $1 AND id = $2 AND status = 'pending'

-- name: delivered_many
-- Successful attempts of one flush: $1 site ids, $2 delivery ids, $3 attempt times, $4 statuses.
UPDATE webhook_deliveries d
SET status = 'delivered', attempts = d.attempts + 1, last_attempt_at = k.at,
    delivered_at = statement_timestamp(), last_status = k.code, last_error = NULL
FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::integer[]) AS k (site_id, id, at, code)
WHERE d.site_id = k.site_id AND d.id = k.id AND d.status = 'pending'

-- name: attempts_many
INSERT INTO webhook_attempts (site_id, delivery_id, endpoint_id, attempt, attempted_at,
                              duration_ms, status_code, error)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::integer[], $5::timestamptz[],
                     $6::double precision[], $7::integer[], $8::text[])

-- name: attempt
INSERT INTO webhook_attempts (site_id, delivery_id, endpoint_id, attempt, attempted_at,
                              duration_ms, status_code, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)

-- name: queue_depths
SELECT (SELECT count(*) FROM webhook_outbox) AS outbox,
       (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS pending,
       (SELECT count(*) FROM webhook_deliveries WHERE status = 'dead') AS dead

-- name: housekeeping
-- Delivered and dead deliveries (and their attempts) older than $1 seconds. now(), not
-- clock_timestamp(): Citus refuses volatile functions in a DELETE's WHERE.
DELETE FROM webhook_deliveries
WHERE status <> 'pending' AND created_at < now() - make_interval(secs => $1)

-- name: create_endpoint
INSERT INTO webhook_endpoints (site_id, url, description, events, format, secret_ciphertext,
                               max_concurrency)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING site_id, id, url, description, events, format, max_concurrency, enabled, created_at,
          updated_at

-- name: list_endpoints
SELECT e.site_id, e.id, e.url, e.description, e.events, e.format, e.max_concurrency, e.enabled,
       e.created_at, e.updated_at,
       (SELECT count(*) FROM webhook_deliveries d
        WHERE d.site_id = e.site_id AND d.endpoint_id = e.id AND d.status = 'pending') AS pending,
       (SELECT count(*) FROM webhook_deliveries d
        WHERE d.site_id = e.site_id AND d.endpoint_id = e.id AND d.status = 'dead') AS dead,
       (SELECT max(d.delivered_at) FROM webhook_deliveries d
        WHERE d.site_id = e.site_id AND d.endpoint_id = e.id) AS last_delivered_at
FROM webhook_endpoints e
WHERE e.site_id = $1
ORDER BY e.created_at

-- name: update_endpoint
UPDATE webhook_endpoints
SET url = coalesce($3, url), description = coalesce($4, description),
    events = coalesce($5, events), format = coalesce($6, format),
    max_concurrency = coalesce($7, max_concurrency), enabled = coalesce($8, enabled),
    updated_at = now()
WHERE site_id = $1 AND id = $2
RETURNING site_id, id, url, description, events, format, max_concurrency, enabled, created_at,
          updated_at

-- name: delete_endpoint
DELETE FROM webhook_endpoints WHERE site_id = $1 AND id = $2 RETURNING id

-- name: deliveries
SELECT id, event_id, event_type, status, attempts, event_at, created_at, next_attempt_at,
       last_attempt_at, delivered_at, last_status, last_error, payload
FROM webhook_deliveries
WHERE site_id = $1 AND endpoint_id = $2 AND ($3::text IS NULL OR status = $3)
ORDER BY created_at DESC, id
LIMIT $4

-- name: attempts
SELECT delivery_id, attempt, attempted_at, duration_ms, status_code, error
FROM webhook_attempts
WHERE site_id = $1 AND delivery_id = ANY ($2::uuid[])
ORDER BY delivery_id, attempt

-- name: replay
-- Send again now, with a fresh retry window (a delivered one is sent again with the same
-- webhook-id, so the receiver can tell it is a repeat).
UPDATE webhook_deliveries
SET status = 'pending', next_attempt_at = statement_timestamp(), window_start = statement_timestamp(),
    delivered_at = NULL
WHERE site_id = $1 AND endpoint_id = $2 AND id = $3
RETURNING id, status, attempts
