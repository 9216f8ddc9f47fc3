-- The Stripe webhook inbox (migrations 0002, 0007). Same parameter order as the SQLite file.
-- One row per (event, flow); rows with flow '' were stored before 0007 and belong to
-- whichever flow of their connection takes them first.

-- name: inbox_add
INSERT INTO stripe_inbox
    (event_id, flow, connection, type, object_key, created, payload, received_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id, flow) DO NOTHING
RETURNING event_id;

-- name: inbox_pending
SELECT event_id, flow, connection, type, object_key, created, payload, status, received_at
FROM stripe_inbox
WHERE connection = %s AND status = 'pending' AND (%s::text IS NULL OR flow = %s OR flow = '')
ORDER BY created, received_at, event_id, flow LIMIT %s;

-- name: inbox_get
SELECT event_id, flow, connection, type, object_key, created, payload, status, received_at
FROM stripe_inbox WHERE event_id = %s AND (%s::text IS NULL OR flow = %s OR flow = '')
ORDER BY status <> 'pending', flow;

-- name: inbox_newest_applied
SELECT max(created) FROM stripe_inbox
WHERE object_key = %s AND status = 'processed' AND (%s::text IS NULL OR flow = %s OR flow = '');

-- name: inbox_mark
UPDATE stripe_inbox SET status = %s, processed_at = %s
WHERE event_id = %s AND (%s::text IS NULL OR flow = %s OR flow = '');
