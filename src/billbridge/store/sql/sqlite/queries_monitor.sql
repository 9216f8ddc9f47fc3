-- Issue 6: reconcile findings, monitoring counts and alert incidents (SQLite).

-- name: discrepancy_upsert
INSERT INTO discrepancies (flow, kind, record_key, idempotency_key, owner, fix, detail,
                           first_seen, last_seen)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (flow, kind, idempotency_key) WHERE status = 'open' DO UPDATE SET
    record_key = excluded.record_key,
    owner = excluded.owner,
    fix = excluded.fix,
    detail = excluded.detail,
    last_seen = excluded.last_seen;

-- name: discrepancy_keys_open
SELECT id, kind, idempotency_key FROM discrepancies WHERE status = 'open' AND flow = ?;

-- name: discrepancy_resolve
UPDATE discrepancies SET status = 'resolved', resolved_at = ? WHERE id = ?;

-- name: open_discrepancies
SELECT id, flow, kind, record_key, idempotency_key, owner, fix, detail, first_seen, last_seen,
       status, resolved_at
FROM discrepancies WHERE status = 'open' AND (? IS NULL OR flow = ?) ORDER BY id;

-- name: discrepancies_since
SELECT id, flow, kind, record_key, idempotency_key, owner, fix, detail, first_seen, last_seen,
       status, resolved_at
FROM discrepancies WHERE first_seen >= ? OR resolved_at >= ? ORDER BY id;

-- name: monitor_posted
SELECT flow, COUNT(DISTINCT record_key), COUNT(*) FROM postings GROUP BY flow;

-- name: monitor_queue
SELECT flow, kind, COUNT(*), MIN(first_seen), SUM(attempts - 1),
       SUM(CASE WHEN retryable THEN 1 ELSE 0 END)
FROM exceptions WHERE status = 'open' GROUP BY flow, kind;

-- name: monitor_last_success
SELECT flow, MAX(finished_at) FROM runs
WHERE status = 'finished' AND kind IN ('live', 'backfill') GROUP BY flow;

-- name: monitor_attempts
SELECT flow, outcome, COUNT(*) FROM outcomes GROUP BY flow, outcome;

-- name: incidents_pending
SELECT id, rule, subject, detail, opened_at, notified_at, resolved_at, resolved_notified_at,
       status
FROM alert_incidents
WHERE status = 'open' OR resolved_notified_at IS NULL
ORDER BY id;

-- name: incident_insert
INSERT INTO alert_incidents (rule, subject, detail, opened_at) VALUES (?, ?, ?, ?)
RETURNING id;

-- name: incident_mark
UPDATE alert_incidents SET
    notified_at = COALESCE(?, notified_at),
    resolved_at = COALESCE(?, resolved_at),
    resolved_notified_at = COALESCE(?, resolved_notified_at),
    status = CASE WHEN COALESCE(?, resolved_at) IS NULL THEN status ELSE 'resolved' END
WHERE id = ?;

-- name: monitor_posted_since
SELECT flow, COUNT(DISTINCT record_key), COUNT(*) FROM postings WHERE posted_at >= ?
GROUP BY flow;

-- name: run_figures_insert
INSERT INTO run_figures (run_id, requests, rate_limit_waits, rate_limit_wait_seconds, throttled)
VALUES (?, ?, ?, ?, ?);

-- name: run_figures_get
SELECT requests, rate_limit_waits, rate_limit_wait_seconds, throttled
FROM run_figures WHERE run_id = ?;

-- name: monitor_run_figures
SELECT r.flow, COUNT(*), SUM(f.requests), SUM(f.rate_limit_waits),
       SUM(f.rate_limit_wait_seconds), SUM(f.throttled)
FROM run_figures f JOIN runs r ON r.id = f.run_id GROUP BY r.flow;

-- name: monitor_last_run_figures
SELECT r.flow, r.id, r.started_at, r.finished_at, f.requests, f.rate_limit_waits,
       f.rate_limit_wait_seconds, f.throttled
FROM runs r JOIN run_figures f ON f.run_id = r.id
WHERE r.id IN (SELECT MAX(id) FROM runs
               WHERE status = 'finished' AND kind IN ('live', 'backfill') GROUP BY flow);

-- name: monitor_inbox
-- An event is stored once per flow of its connection (migration 0007): count events.
SELECT connection, COUNT(DISTINCT event_id),
       COUNT(DISTINCT CASE WHEN status = 'pending' THEN event_id END),
       MIN(CASE WHEN status = 'pending' THEN received_at END), MAX(received_at)
FROM stripe_inbox GROUP BY connection;

-- name: monitor_inbox_newest
SELECT i.connection, MAX(i.created), i.received_at
FROM stripe_inbox i
JOIN (SELECT connection, MAX(received_at) AS at FROM stripe_inbox GROUP BY connection) n
  ON n.connection = i.connection AND n.at = i.received_at
GROUP BY i.connection, i.received_at;
