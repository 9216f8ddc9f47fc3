-- Named queries for the SQLite backend. Positional parameters (?), in the same order as
-- the PostgreSQL file: the Python side builds one parameter tuple for both dialects.

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
);

-- name: applied_migrations
SELECT version FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?);

-- name: start_run
INSERT INTO runs (flow, kind, actor, started_at, mapping_version, host, pid, owner, heartbeat_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: finish_run
UPDATE runs SET finished_at = ?, status = ?, counts = ?, error = ? WHERE id = ?
RETURNING id;

-- name: get_run
SELECT id, flow, kind, actor, started_at, finished_at, status, counts, mapping_version,
       host, pid, owner, heartbeat_at, error
FROM runs WHERE id = ?;

-- name: list_runs
SELECT id, flow, kind, actor, started_at, finished_at, status, counts, mapping_version,
       host, pid, owner, heartbeat_at, error
FROM runs WHERE (? IS NULL OR flow = ?)
ORDER BY id DESC LIMIT ?;

-- name: running_runs
SELECT id, flow, kind, actor, started_at, finished_at, status, counts, mapping_version,
       host, pid, owner, heartbeat_at, error
FROM runs WHERE status = 'running' AND (? IS NULL OR flow = ?)
ORDER BY id;

-- name: touch_run
UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running';

-- name: close_dead_run
UPDATE runs SET finished_at = ?, status = ?, error = ?
WHERE id = ? AND status = 'running'
RETURNING flow;

-- name: upsert_record
INSERT INTO records (key, connection, object, source_id, version, snapshot, seen_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    connection = excluded.connection,
    object = excluded.object,
    source_id = excluded.source_id,
    version = excluded.version,
    snapshot = excluded.snapshot,
    seen_at = excluded.seen_at;

-- name: insert_posting
INSERT INTO postings (flow, record_key, facet, idempotency_key, version, entry_hash, target,
                      target_ref, run_id, posted_at, summary, link, lines, mapping_version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_outcome
INSERT INTO outcomes (run_id, flow, record_key, version, outcome, at, retryable, error, field, hint)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: upsert_exception
INSERT INTO exceptions (flow, record_key, version, kind, error, field, hint, retryable,
                        waiting_on, next_try_at, first_seen, last_tried, held_since)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (flow, record_key) WHERE status = 'open' DO UPDATE SET
    attempts = exceptions.attempts + 1,
    last_tried = excluded.last_tried,
    version = excluded.version,
    kind = excluded.kind,
    error = excluded.error,
    field = excluded.field,
    hint = excluded.hint,
    retryable = excluded.retryable,
    waiting_on = excluded.waiting_on,
    next_try_at = excluded.next_try_at,
    held_since = CASE
        WHEN excluded.waiting_on = '' THEN NULL
        WHEN exceptions.waiting_on = excluded.waiting_on AND exceptions.held_since IS NOT NULL
            THEN exceptions.held_since
        ELSE excluded.held_since
    END;

-- name: close_exception
UPDATE exceptions SET status = 'closed', resolution = ?, closed_at = ?
WHERE flow = ? AND record_key = ? AND status = 'open';

-- name: dismiss_exception
UPDATE exceptions SET status = 'dismissed', resolution = ?, closed_at = ?
WHERE id = ? AND status = 'open'
RETURNING record_key;

-- name: exception_status
SELECT status FROM exceptions WHERE id = ?;

-- name: upsert_cursor
INSERT INTO cursors (flow, name, value, position, updated_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (flow, name) DO UPDATE SET
    value = excluded.value,
    position = excluded.position,
    updated_at = excluded.updated_at;

-- name: get_cursor
SELECT flow, name, value, position FROM cursors WHERE flow = ? AND name = ?;

-- name: audit_head
SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1;

-- name: insert_audit
INSERT INTO audit (seq, at, actor, action, record_key, diff, run_id, mapping_version,
                   prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: audit_rows
SELECT * FROM (
    SELECT seq, at, actor, action, record_key, diff, run_id, mapping_version, prev_hash, hash
    FROM audit WHERE (? IS NULL OR record_key = ?)
    ORDER BY seq DESC LIMIT ?
) ORDER BY seq;

-- name: audit_page
SELECT seq, at, actor, action, record_key, diff, run_id, mapping_version, prev_hash, hash
FROM audit WHERE seq > ? ORDER BY seq LIMIT ?;

-- name: get_record
SELECT key, connection, object, source_id, version, snapshot, seen_at
FROM records WHERE key = ?;

-- name: get_records
SELECT key, connection, object, source_id, version, snapshot, seen_at
FROM records WHERE key IN (SELECT value FROM json_each(?));

-- name: find_records
SELECT key, connection, object, source_id, version, snapshot, seen_at
FROM records WHERE source_id = ? ORDER BY key;

-- name: postings_for
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE record_key = ? AND (? IS NULL OR flow = ?) ORDER BY id;

-- name: posting_by_key
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE idempotency_key = ?;

-- name: postings_page
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE id > ? AND (? IS NULL OR flow = ?) ORDER BY id LIMIT ?;

-- name: outcomes_for
SELECT run_id, flow, record_key, version, outcome, at, retryable, error, field, hint
FROM outcomes WHERE record_key = ? ORDER BY id;

-- name: outcome_counts
SELECT outcome, count(*) FROM outcomes WHERE run_id = ? GROUP BY outcome;

-- name: open_exceptions
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions WHERE status = 'open' AND (? IS NULL OR flow = ?) ORDER BY id;

-- name: get_exception
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions WHERE id = ?;

-- name: exceptions_for
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions WHERE record_key = ? ORDER BY id;

-- name: held_waiting_on
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions
WHERE status = 'open' AND waiting_on IN (SELECT value FROM json_each(?))
ORDER BY id;

-- name: postings_linked
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE link = ? AND link <> '' ORDER BY id;

-- name: records_linked
SELECT DISTINCT record_key
FROM postings WHERE link IN (SELECT value FROM json_each(?)) AND link <> '' AND flow = ?;

-- name: posted_facets
SELECT record_key, facet, entry_hash
FROM postings WHERE record_key IN (SELECT value FROM json_each(?)) AND flow = ?;

-- name: exceptions_since
-- Every row open at some moment since the given time (open now, or closed after it),
-- with when it closed: what the clean-up trend rebuilds past queues from.
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since, closed_at
FROM exceptions WHERE closed_at IS NULL OR closed_at >= ? ORDER BY id;
