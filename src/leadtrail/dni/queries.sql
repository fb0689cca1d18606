-- Dynamic number insertion. $1 is always the site id.

-- name: list_numbers
SELECT n.number, n.label, n.created_at, n.last_leased_at,
       l.session_id AS leased_to, l.expires_at AS lease_expires_at
FROM dni_numbers n
LEFT JOIN LATERAL (
    SELECT session_id, expires_at FROM dni_leases l
    WHERE l.site_id = n.site_id AND l.number = n.number AND l.expires_at > $2::timestamptz
    ORDER BY l.expires_at DESC LIMIT 1
) l ON true
WHERE n.site_id = $1
ORDER BY n.number;

-- name: add_number
INSERT INTO dni_numbers (site_id, number, label) VALUES ($1, $2, $3)
ON CONFLICT (site_id, number) DO UPDATE SET label = EXCLUDED.label
RETURNING number, label, created_at, last_leased_at;

-- name: remove_number
DELETE FROM dni_numbers WHERE site_id = $1 AND number = $2 RETURNING number;

-- name: pool_size
SELECT count(*)::int FROM dni_numbers WHERE site_id = $1;

-- name: lock_pool
-- One lease decision at a time per site (a transaction-scoped advisory lock), so two
-- visitors arriving together never get the same number.
SELECT pg_advisory_xact_lock(hashtextextended('leadtrail.dni:' || $1::uuid::text, 0));

-- name: current_lease
SELECT number, expires_at FROM dni_leases
WHERE site_id = $1 AND session_id = $2 AND expires_at > $3::timestamptz
ORDER BY expires_at DESC LIMIT 1;

-- name: extend_lease
UPDATE dni_leases SET expires_at = $4
WHERE site_id = $1 AND session_id = $2 AND number = $3 AND expires_at > $5::timestamptz
RETURNING number, expires_at;

-- name: free_number
-- The pool's number leased longest ago (never leased first) that no live lease holds.
SELECT n.number FROM dni_numbers n
WHERE n.site_id = $1
  AND NOT EXISTS (
      SELECT 1 FROM dni_leases l
      WHERE l.site_id = n.site_id AND l.number = n.number AND l.expires_at > $2::timestamptz
  )
ORDER BY n.last_leased_at NULLS FIRST, n.number
LIMIT 1
FOR UPDATE;

-- name: insert_lease
INSERT INTO dni_leases (site_id, number, session_id, leased_at, expires_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING number, expires_at;

-- name: touch_number
UPDATE dni_numbers SET last_leased_at = $3 WHERE site_id = $1 AND number = $2;

-- name: record_exhaustion
INSERT INTO dni_exhaustions (site_id, session_id, at) VALUES ($1, $2, $3);

-- name: exhaustion_count
SELECT count(*)::int FROM dni_exhaustions WHERE site_id = $1 AND at >= $2 AND at < $3;

-- name: session_for_call
-- The session the dialled number was leased to when the call started: the latest lease of
-- the number begun at or before that moment and not yet expired then.
SELECT session_id FROM dni_leases
WHERE site_id = $1 AND number = $2 AND leased_at <= $3::timestamptz AND expires_at >= $3::timestamptz
ORDER BY leased_at DESC, id
LIMIT 1;

-- name: session_landing
SELECT utm_source, utm_medium, utm_campaign, referrer_type, referrer_domain, gclid, gbraid,
       wbraid, msclkid, fbclid, ttclid, li_fat_id
FROM sessions WHERE site_id = $1 AND id = $2
ORDER BY created_month DESC LIMIT 1;
