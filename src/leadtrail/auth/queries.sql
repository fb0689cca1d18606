-- name: password_hash
SELECT password_hash FROM app_users WHERE id = $1 AND disabled_at IS NULL;

-- name: set_password
UPDATE app_users SET password_hash = $2, updated_at = now() WHERE id = $1;

-- name: end_sessions
DELETE FROM dashboard_sessions WHERE user_id = $1;

-- name: user_by_email
SELECT id FROM app_users WHERE email = $1;

-- name: user_email
SELECT email FROM app_users WHERE id = $1;

-- name: insert_invited_user
INSERT INTO app_users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id;

-- name: add_invited_member
INSERT INTO site_members (site_id, user_id, role) VALUES ($1, $2, $3);

-- name: drop_open_tokens
DELETE FROM account_tokens WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL;

-- name: insert_token
INSERT INTO account_tokens (token_hash, user_id, purpose, created_by, expires_at)
VALUES ($1, $2, $3, $4, now() + $5::interval)
RETURNING expires_at;

-- name: use_token
-- Marks the link used and answers its account, once, while it is valid.
UPDATE account_tokens t SET used_at = now()
FROM app_users u
WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > now() AND u.id = t.user_id
RETURNING t.user_id, u.email;

-- name: sole_owner_of
-- True when the account is the only owner of some site.
SELECT EXISTS (
    SELECT 1 FROM site_members m
    WHERE m.user_id = $1 AND m.role = 'owner'
      AND NOT EXISTS (SELECT 1 FROM site_members o
                      WHERE o.site_id = m.site_id AND o.role = 'owner' AND o.user_id <> $1)
);

-- name: delete_user
DELETE FROM app_users WHERE id = $1;
