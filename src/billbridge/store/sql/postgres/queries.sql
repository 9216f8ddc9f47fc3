-- Named queries for the PostgreSQL backend. Positional parameters (%s), in the same order as
-- the SQLite file: the Python side builds one parameter tuple for both dialects.

-- name: create_schema_migrations
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    applied_at  timestamptz NOT NULL
);

-- name: applied_migrations
SELECT version FROM schema_migrations ORDER BY version;

-- name: record_migration
INSERT INTO schema_migrations (version, applied_at) VALUES (%s, %s);

-- name: start_run
INSERT INTO runs (flow, kind, actor, started_at, mapping_version, host, pid, owner, heartbeat_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id;

-- name: finish_run
UPDATE runs SET finished_at = %s, status = %s, counts = %s::jsonb, error = %s WHERE id = %s
RETURNING id;

-- name: get_run
SELECT id, flow, kind, actor, started_at, finished_at, status, counts, mapping_version,
       host, pid, owner, heartbeat_at, error
FROM runs WHERE id = %s;

-- name: list_runs
SELECT id, flow, kind, actor, started_at, finished_at, status, counts, mapping_version,
       host, pid, owner, heartbeat_at, error
FROM runs WHERE (%s::text IS NULL OR flow = %s)
ORDER BY id DESC LIMIT %s;

-- name: running_runs
SELECT id, flow, kind, actor, started_at, finished_at, status, counts, mapping_version,
       host, pid, owner, heartbeat_at, error
FROM runs WHERE status = 'running' AND (%s::text IS NULL OR flow = %s)
ORDER BY id;

-- name: touch_run
UPDATE runs SET heartbeat_at = %s WHERE id = %s AND status = 'running';

-- name: close_dead_run
UPDATE runs SET finished_at = %s, status = %s, error = %s
WHERE id = %s AND status = 'running'
RETURNING flow;

-- name: upsert_record
INSERT INTO records (key, connection, object, source_id, version, snapshot, seen_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
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
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: insert_outcome
INSERT INTO outcomes (run_id, flow, record_key, version, outcome, at, retryable, error, field, hint)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: upsert_exception
INSERT INTO exceptions (flow, record_key, version, kind, error, field, hint, retryable,
                        waiting_on, next_try_at, first_seen, last_tried, held_since)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
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
UPDATE exceptions SET status = 'closed', resolution = %s, closed_at = %s
WHERE flow = %s AND record_key = %s AND status = 'open';

-- name: dismiss_exception
UPDATE exceptions SET status = 'dismissed', resolution = %s, closed_at = %s
WHERE id = %s AND status = 'open'
RETURNING record_key;

-- name: exception_status
SELECT status FROM exceptions WHERE id = %s;

-- name: upsert_cursor
INSERT INTO cursors (flow, name, value, position, updated_at)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (flow, name) DO UPDATE SET
    value = excluded.value,
    position = excluded.position,
    updated_at = excluded.updated_at;

-- name: get_cursor
SELECT flow, name, value, position FROM cursors WHERE flow = %s AND name = %s;

-- name: audit_head
SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1;

-- name: insert_audit
INSERT INTO audit (seq, at, actor, action, record_key, diff, run_id, mapping_version,
                   prev_hash, hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: audit_rows
SELECT * FROM (
    SELECT seq, at, actor, action, record_key, diff, run_id, mapping_version, prev_hash, hash
    FROM audit WHERE (%s::text IS NULL OR record_key = %s)
    ORDER BY seq DESC LIMIT %s
) AS latest ORDER BY seq;

-- name: audit_page
SELECT seq, at, actor, action, record_key, diff, run_id, mapping_version, prev_hash, hash
FROM audit WHERE seq > %s ORDER BY seq LIMIT %s;

-- name: get_record
SELECT key, connection, object, source_id, version, snapshot, seen_at
FROM records WHERE key = %s;

-- name: get_records
SELECT key, connection, object, source_id, version, snapshot, seen_at
FROM records WHERE key = ANY(%s::text[]);

-- name: find_records
SELECT key, connection, object, source_id, version, snapshot, seen_at
FROM records WHERE source_id = %s ORDER BY key;

-- name: postings_for
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE record_key = %s AND (%s::text IS NULL OR flow = %s) ORDER BY id;

-- name: posting_by_key
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE idempotency_key = %s;

-- name: postings_page
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE id > %s AND (%s::text IS NULL OR flow = %s) ORDER BY id LIMIT %s;

-- name: outcomes_for
SELECT run_id, flow, record_key, version, outcome, at, retryable, error, field, hint
FROM outcomes WHERE record_key = %s ORDER BY id;

-- name: outcome_counts
SELECT outcome, count(*)::int FROM outcomes WHERE run_id = %s GROUP BY outcome;

-- name: open_exceptions
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions WHERE status = 'open' AND (%s::text IS NULL OR flow = %s) ORDER BY id;

-- name: get_exception
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions WHERE id = %s;

-- name: exceptions_for
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions WHERE record_key = %s ORDER BY id;

-- name: held_waiting_on
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since
FROM exceptions
WHERE status = 'open' AND waiting_on = ANY(%s::text[])
ORDER BY id;

-- name: lock_chain
-- Serialises writers of the audit chain (and migrations) across processes; released at
-- the end of the transaction.
SELECT pg_advisory_xact_lock(%s);

-- name: postings_linked
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE link = %s AND link <> '' ORDER BY id;

-- Bulk forms of the batch writes: one statement per table and batch, the columns passed
-- as arrays (one round trip instead of one per row). Rows must have distinct keys.

-- name: upsert_record_bulk
INSERT INTO records (key, connection, object, source_id, version, snapshot, seen_at)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                     %b::bytea[], %b::timestamptz[])
ON CONFLICT (key) DO UPDATE SET
    connection = excluded.connection,
    object = excluded.object,
    source_id = excluded.source_id,
    version = excluded.version,
    snapshot = excluded.snapshot,
    seen_at = excluded.seen_at;

-- name: insert_posting_bulk
INSERT INTO postings (flow, record_key, facet, idempotency_key, version, entry_hash, target,
                      target_ref, run_id, posted_at, summary, link, lines, mapping_version)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                     %b::text[], %b::text[], %b::bigint[], %b::timestamptz[], %b::text[],
                     %b::text[], %b::text[], %b::text[]);

-- name: insert_outcome_bulk
INSERT INTO outcomes (run_id, flow, record_key, version, outcome, at, retryable, error, field, hint)
SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[],
                     %b::timestamptz[], %b::boolean[], %b::text[], %b::text[], %b::text[]);

-- name: insert_audit_bulk
INSERT INTO audit (seq, at, actor, action, record_key, diff, run_id, mapping_version,
                   prev_hash, hash)
SELECT * FROM unnest(%b::bigint[], %b::timestamptz[], %b::text[], %b::text[], %b::text[],
                     %b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[]);

-- name: records_linked
SELECT DISTINCT record_key
FROM postings WHERE link = ANY(%s::text[]) AND link <> '' AND flow = %s;

-- name: posted_facets
SELECT record_key, facet, entry_hash
FROM postings WHERE record_key = ANY(%s::text[]) AND flow = %s;

-- name: exceptions_since
-- Every row open at some moment since the given time (open now, or closed after it),
-- with when it closed: what the clean-up trend rebuilds past queues from.
SELECT id, flow, record_key, version, kind, error, field, hint, retryable, waiting_on,
       next_try_at, attempts, first_seen, last_tried, status, resolution, held_since, closed_at
FROM exceptions WHERE closed_at IS NULL OR closed_at >= %s ORDER BY id;
