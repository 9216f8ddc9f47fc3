-- Revoking API tokens (a revoked token never authenticates again; the row stays, so
-- `billbridge token list` shows when it was revoked) and when each was last used
-- (written at most once a minute per token, to spot a leaked or forgotten one).
ALTER TABLE api_tokens ADD COLUMN revoked_at timestamptz;
ALTER TABLE api_tokens ADD COLUMN last_used_at timestamptz;
