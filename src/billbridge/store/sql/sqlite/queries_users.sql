-- Users, API tokens, web sessions and audit search (`billbridge serve`); see 0003_users.sql.

-- name: insert_user
INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (name) DO NOTHING RETURNING name;

-- name: get_user
SELECT name, role, password_hash, created_at FROM users WHERE name = ?;

-- name: list_users
SELECT name, role, password_hash, created_at FROM users ORDER BY name;

-- name: insert_token
INSERT INTO api_tokens (user_name, token_hash, label, created_at, expires_at)
VALUES (?, ?, ?, ?, ?) RETURNING id;

-- name: user_for_token
SELECT u.name, u.role, u.password_hash, u.created_at, t.id, t.last_used_at
FROM api_tokens t JOIN users u ON u.name = t.user_name
WHERE t.token_hash = ? AND t.revoked_at IS NULL
  AND (t.expires_at IS NULL OR t.expires_at > ?);

-- name: touch_token
UPDATE api_tokens SET last_used_at = ? WHERE id = ?;

-- name: list_tokens
SELECT id, user_name, label, created_at, expires_at, last_used_at, revoked_at
FROM api_tokens WHERE (? IS NULL OR user_name = ?) ORDER BY id;

-- name: get_token
SELECT id, user_name, label, created_at, expires_at, last_used_at, revoked_at
FROM api_tokens WHERE id = ?;

-- name: revoke_token
UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL;

-- name: count_admins
SELECT count(*) FROM users WHERE role = 'admin';

-- name: count_tokens
SELECT count(*) FROM api_tokens WHERE user_name = ? AND revoked_at IS NULL;

-- name: delete_user
DELETE FROM users WHERE name = ?;

-- name: set_role
UPDATE users SET role = ? WHERE name = ?;

-- name: insert_session
INSERT INTO web_sessions (session_hash, user_name, csrf, created_at, expires_at)
VALUES (?, ?, ?, ?, ?);

-- name: session_user
SELECT u.name, u.role, u.password_hash, u.created_at, s.csrf
FROM web_sessions s JOIN users u ON u.name = s.user_name
WHERE s.session_hash = ? AND s.expires_at > ?;

-- name: delete_session
DELETE FROM web_sessions WHERE session_hash = ? OR expires_at <= ?;

-- name: search_audit
SELECT * FROM (
    SELECT seq, at, actor, action, record_key, diff, run_id, mapping_version, prev_hash, hash
    FROM audit
    WHERE (? IS NULL OR record_key = ?)
      AND (? IS NULL OR actor = ?)
      AND (? IS NULL OR at >= ?)
      AND (? IS NULL OR at < ?)
    ORDER BY seq DESC LIMIT ?
) ORDER BY seq;
