-- Write-backs to billing systems (store/_writebacks.py, migration 0007).

-- name: upsert_writeback
INSERT INTO writebacks (connection, action, record_key, version, idempotency_key, status,
                        attempt, object_id, how, error, request, actor, first_at, last_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (connection, action, record_key, version) DO UPDATE SET
    idempotency_key = excluded.idempotency_key,
    status = excluded.status,
    attempt = excluded.attempt,
    object_id = excluded.object_id,
    how = excluded.how,
    error = excluded.error,
    request = excluded.request,
    actor = excluded.actor,
    last_at = excluded.last_at;

-- name: get_writeback
SELECT id, connection, action, record_key, version, idempotency_key, status, attempt,
       object_id, how, error, request, actor, first_at, last_at
FROM writebacks WHERE connection = ? AND action = ? AND record_key = ? AND version = ?;

-- name: writebacks_for
SELECT id, connection, action, record_key, version, idempotency_key, status, attempt,
       object_id, how, error, request, actor, first_at, last_at
FROM writebacks WHERE record_key = ? ORDER BY id;
