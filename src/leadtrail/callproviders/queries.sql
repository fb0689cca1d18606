-- Call-provider webhook secrets. $1 is always the site id.

-- name: set_provider
INSERT INTO call_providers (site_id, kind, secret_encrypted) VALUES ($1, $2, $3)
ON CONFLICT (site_id, kind) DO UPDATE
SET secret_encrypted = EXCLUDED.secret_encrypted, updated_at = EXCLUDED.updated_at
RETURNING kind, created_at, updated_at;

-- name: get_provider
SELECT secret_encrypted FROM call_providers WHERE site_id = $1 AND kind = $2;

-- name: list_providers
SELECT kind, created_at, updated_at FROM call_providers WHERE site_id = $1 ORDER BY kind;

-- name: remove_provider
DELETE FROM call_providers WHERE site_id = $1 AND kind = $2 RETURNING kind;
