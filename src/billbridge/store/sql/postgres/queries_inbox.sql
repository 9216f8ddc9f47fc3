-- The Stripe webhook inbox (migration 0002). Same parameter order as the SQLite file.

-- name: inbox_add
INSERT INTO stripe_inbox (event_id, connection, type, object_key, created, payload, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id;

-- name: inbox_pending
SELECT event_id, connection, type, object_key, created, payload, status, received_at
FROM stripe_inbox WHERE connection = %s AND status = 'pending'
ORDER BY created, received_at, event_id LIMIT %s;

-- name: inbox_get
SELECT event_id, connection, type, object_key, created, payload, status, received_at
FROM stripe_inbox WHERE event_id = %s;

-- name: inbox_newest_applied
SELECT max(created) FROM stripe_inbox WHERE object_key = %s AND status = 'processed';

-- name: inbox_mark
UPDATE stripe_inbox SET status = %s, processed_at = %s WHERE event_id = %s;
