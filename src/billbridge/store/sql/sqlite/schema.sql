-- billbridge state store, SQLite: the schema of a fresh install.
-- Must equal what applying every file in migrations/ builds (tests/integration/store checks it).
-- Keep it in step: a new migration NNNN_*.sql changes this file the same way.

CREATE TABLE schema_migrations (
    version     INTEGER PRIMARY KEY,
    applied_at  TEXT NOT NULL
);


CREATE TABLE connections (
    name        TEXT PRIMARY KEY,
    connector   TEXT NOT NULL,
    mode        TEXT NOT NULL CHECK (mode IN ('sandbox', 'production')),
    settings    TEXT NOT NULL DEFAULT '{}',  -- JSON, never secrets
    updated_at  TEXT NOT NULL
);

CREATE TABLE flows (
    name             TEXT PRIMARY KEY,
    source           TEXT NOT NULL,
    target           TEXT NOT NULL,
    mapping          TEXT NOT NULL DEFAULT '',
    mapping_version  TEXT NOT NULL DEFAULT '',
    updated_at       TEXT NOT NULL
);

CREATE TABLE runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    flow             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    actor            TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    finished_at      TEXT,
    status           TEXT NOT NULL DEFAULT 'running',
    counts           TEXT NOT NULL DEFAULT '{}',
    mapping_version  TEXT NOT NULL DEFAULT ''
    -- migration 0020, in the shape its ALTER TABLE leaves (migrations == fresh schema):
    , host TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL DEFAULT 0, owner TEXT NOT NULL DEFAULT '', heartbeat_at TEXT, error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_flow_idx ON runs (flow, id);
CREATE INDEX runs_running_idx ON runs (flow) WHERE status = 'running';

CREATE TABLE records (
    key         TEXT PRIMARY KEY,
    connection  TEXT NOT NULL,
    object      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    version     TEXT NOT NULL,
    snapshot    BLOB NOT NULL,
    seen_at     TEXT NOT NULL
);
CREATE INDEX records_source_id_idx ON records (source_id);

CREATE TABLE postings (
    id               INTEGER PRIMARY KEY,
    flow             TEXT NOT NULL,
    record_key       TEXT NOT NULL,
    facet            TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    version          TEXT NOT NULL,
    entry_hash       TEXT NOT NULL,
    target           TEXT NOT NULL,
    target_ref       TEXT NOT NULL,
    run_id           INTEGER NOT NULL REFERENCES runs (id),
    posted_at        TEXT NOT NULL,
    summary          TEXT NOT NULL DEFAULT '',
    link             TEXT NOT NULL DEFAULT ''  -- the document it belongs to, for trace
    -- migrations 0060 and 0080, in the shape their ALTER TABLEs leave (migrations == fresh):
    , lines TEXT NOT NULL DEFAULT '', mapping_version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX postings_record_key_idx ON postings (record_key);
CREATE INDEX postings_link_idx ON postings (link) WHERE link <> '';

CREATE TABLE outcomes (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    flow        TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    version     TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('synced', 'unchanged', 'failed', 'held', 'conflict')),
    at          TEXT NOT NULL,
    retryable   INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    field       TEXT NOT NULL DEFAULT '',
    hint        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outcomes_record_key_idx ON outcomes (record_key);
CREATE INDEX outcomes_run_id_idx ON outcomes (run_id);

CREATE TABLE exceptions (
    id           INTEGER PRIMARY KEY,
    flow         TEXT NOT NULL,
    record_key   TEXT NOT NULL,
    version      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('failed', 'held', 'conflict')),
    error        TEXT NOT NULL,
    field        TEXT NOT NULL DEFAULT '',
    hint         TEXT NOT NULL DEFAULT '',
    retryable    INTEGER NOT NULL DEFAULT 0,
    waiting_on   TEXT NOT NULL DEFAULT '',
    next_try_at  TEXT,
    attempts     INTEGER NOT NULL DEFAULT 1,
    first_seen   TEXT NOT NULL,
    last_tried   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'dismissed')),
    resolution   TEXT NOT NULL DEFAULT '',
    closed_at    TEXT
    -- migration 0021, in the shape its ALTER TABLE leaves (migrations == fresh schema):
    , held_since TEXT
);
CREATE UNIQUE INDEX exceptions_one_open_idx ON exceptions (flow, record_key) WHERE status = 'open';
CREATE INDEX exceptions_record_key_idx ON exceptions (record_key);
CREATE INDEX exceptions_waiting_on_idx ON exceptions (waiting_on);

CREATE TABLE cursors (
    flow        TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (flow, name)
);

CREATE TABLE audit (
    seq              INTEGER PRIMARY KEY,
    at               TEXT NOT NULL,
    actor            TEXT NOT NULL,
    action           TEXT NOT NULL,
    record_key       TEXT NOT NULL DEFAULT '',
    diff             TEXT NOT NULL DEFAULT '{}',
    run_id           INTEGER,
    mapping_version  TEXT NOT NULL DEFAULT '',
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE INDEX audit_record_key_idx ON audit (record_key);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit log is append-only');
END;

CREATE TABLE discrepancies (
    id               INTEGER PRIMARY KEY,
    flow             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    record_key       TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    owner            TEXT NOT NULL DEFAULT '',
    fix              TEXT NOT NULL DEFAULT '',
    detail           TEXT NOT NULL DEFAULT '',
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolved_at      TEXT
);
CREATE UNIQUE INDEX discrepancies_one_open_idx
    ON discrepancies (flow, kind, idempotency_key) WHERE status = 'open';

CREATE TABLE alert_incidents (
    id                    INTEGER PRIMARY KEY,
    rule                  TEXT NOT NULL,
    subject               TEXT NOT NULL,
    detail                TEXT NOT NULL DEFAULT '',
    opened_at             TEXT NOT NULL,
    notified_at           TEXT,
    resolved_at           TEXT,
    resolved_notified_at  TEXT,
    status                TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved'))
);
CREATE UNIQUE INDEX alert_incidents_one_open_idx
    ON alert_incidents (rule, subject) WHERE status = 'open';

CREATE TABLE users (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'mapper', 'approver', 'admin')),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name     TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    label         TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    revoked_at    TEXT,
    last_used_at  TEXT
);

CREATE TABLE web_sessions (
    session_hash  TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    csrf          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX audit_actor_idx ON audit (actor, seq);
-- The Stripe webhook inbox: every verified event, stored before the receiver answers 2xx,
-- one row per flow reading its connection (migration 0007).
CREATE TABLE stripe_inbox (
    event_id      TEXT NOT NULL,
    connection    TEXT NOT NULL,
    type          TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    created       INTEGER NOT NULL,
    payload       BLOB NOT NULL,
    received_at   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    processed_at  TEXT,
    flow          TEXT NOT NULL DEFAULT '',  -- '' rows: stored before 0007
    PRIMARY KEY (event_id, flow)
);

CREATE INDEX stripe_inbox_pending ON stripe_inbox (connection, status, created);

CREATE INDEX stripe_inbox_object ON stripe_inbox (object_key, status, created);
CREATE TABLE invoice_numbers (
    entity      TEXT NOT NULL,
    series      TEXT NOT NULL,
    number      TEXT NOT NULL,
    seq         INTEGER,
    record_key  TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    PRIMARY KEY (entity, series, number)
) WITHOUT ROWID;  -- migration 0110: the rows live in the primary key's B-tree

CREATE TABLE flow_records (
    flow        TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    version     TEXT NOT NULL,
    PRIMARY KEY (flow, record_key)
) WITHOUT ROWID;

-- What reading cost each run, as its source counted it (issue 6): requests sent, waits
-- for the rate limit (client-side pacing plus backoffs after HTTP 429) and their seconds,
-- and 429 answers. A run whose source counts nothing (an export file) has no row.
CREATE TABLE run_figures (
    run_id                   INTEGER PRIMARY KEY REFERENCES runs (id),
    requests                 INTEGER NOT NULL,
    rate_limit_waits         INTEGER NOT NULL,
    rate_limit_wait_seconds  REAL NOT NULL,
    throttled                INTEGER NOT NULL
);

-- Webhook lag reads the newest event received per connection.
CREATE INDEX stripe_inbox_received ON stripe_inbox (connection, received_at);

CREATE TABLE writebacks (
    id               INTEGER PRIMARY KEY,
    connection       TEXT NOT NULL,
    action           TEXT NOT NULL,
    record_key       TEXT NOT NULL,
    version          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'done', 'failed')),
    attempt          INTEGER NOT NULL DEFAULT 1,
    object_id        TEXT NOT NULL DEFAULT '',
    how              TEXT NOT NULL DEFAULT '',
    error            TEXT NOT NULL DEFAULT '',
    request          BLOB NOT NULL,
    actor            TEXT NOT NULL,
    first_at         TEXT NOT NULL,
    last_at          TEXT NOT NULL,
    UNIQUE (connection, action, record_key, version)
);
CREATE INDEX writebacks_record_key_idx ON writebacks (record_key);

-- Every mapping a flow has used or been offered, as the validated model's JSON (which
-- reloads to the same content hash, the version id). Rows are never changed or deleted.
CREATE TABLE mapping_versions (
    flow        TEXT NOT NULL,
    version     TEXT NOT NULL,
    content     TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    parent      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (flow, version)
);

CREATE TRIGGER mapping_versions_no_update BEFORE UPDATE ON mapping_versions
BEGIN
    SELECT RAISE(ABORT, 'mapping versions are immutable');
END;

CREATE TRIGGER mapping_versions_no_delete BEFORE DELETE ON mapping_versions
BEGIN
    SELECT RAISE(ABORT, 'mapping versions are immutable');
END;

-- Which version each flow runs, changed only by a promotion (bootstrap, promote, rollback).
CREATE TABLE mapping_promotions (
    id        INTEGER PRIMARY KEY,
    flow      TEXT NOT NULL,
    version   TEXT NOT NULL,
    previous  TEXT NOT NULL DEFAULT '',
    kind      TEXT NOT NULL CHECK (kind IN ('bootstrap', 'promote', 'rollback')),
    actor     TEXT NOT NULL,
    test_id   INTEGER,
    at        TEXT NOT NULL
);
CREATE INDEX mapping_promotions_flow_idx ON mapping_promotions (flow, id);

-- `billbridge mapping test`: a draft re-planned against the promoted version on stored
-- snapshots; `summary` is the JSON the command showed (counts, totals, changed records).
CREATE TABLE mapping_tests (
    id       INTEGER PRIMARY KEY,
    flow     TEXT NOT NULL,
    draft    TEXT NOT NULL,
    base     TEXT NOT NULL,
    actor    TEXT NOT NULL,
    at       TEXT NOT NULL,
    records  INTEGER NOT NULL,
    summary  TEXT NOT NULL
);
CREATE INDEX mapping_tests_draft_idx ON mapping_tests (flow, draft, id);

-- A person's decision on a record an approval rule held, for one version of the record.
CREATE TABLE record_approvals (
    id          INTEGER PRIMARY KEY,
    flow        TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    version     TEXT NOT NULL,
    rule        TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    reason      TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX record_approvals_key_idx ON record_approvals (flow, record_key, version);

-- Two-way sync and GDPR erasure (issue 16).
-- record_links: which record on one side of a two-way pair is which on the other.
CREATE TABLE record_links (
    pair         TEXT NOT NULL,
    object       TEXT NOT NULL,
    a_key        TEXT NOT NULL,
    b_key        TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    linked_at    TEXT NOT NULL,
    archived_at  TEXT,
    PRIMARY KEY (pair, a_key)
);
CREATE UNIQUE INDEX record_links_b_idx ON record_links (pair, b_key);

-- field_bases: the value of each field billbridge last synced (the base of a three-way
-- compare). Values are JSON and may be personal data: erasure rewrites them.
CREATE TABLE field_bases (
    pair       TEXT NOT NULL,
    a_key      TEXT NOT NULL,
    field      TEXT NOT NULL,
    value      TEXT NOT NULL,
    synced_at  TEXT NOT NULL,
    PRIMARY KEY (pair, a_key, field)
);

-- field_conflicts: a field changed on both sides (or by a non-owner under `conflict`):
-- both values, the base, when and by whom; its queue row is (flow, record_key).
CREATE TABLE field_conflicts (
    id           INTEGER PRIMARY KEY,
    pair         TEXT NOT NULL,
    a_key        TEXT NOT NULL,
    b_key        TEXT NOT NULL,
    field        TEXT NOT NULL,
    base         TEXT,
    a_value      TEXT NOT NULL,
    b_value      TEXT NOT NULL,
    a_at         TEXT NOT NULL,
    b_at         TEXT NOT NULL,
    a_actor      TEXT NOT NULL,
    b_actor      TEXT NOT NULL,
    flow         TEXT NOT NULL,
    record_key   TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    resolution   TEXT NOT NULL DEFAULT '',
    opened_at    TEXT NOT NULL,
    resolved_at  TEXT
);
CREATE UNIQUE INDEX field_conflicts_open_idx ON field_conflicts (pair, a_key, field)
    WHERE status = 'open';
CREATE INDEX field_conflicts_record_idx ON field_conflicts (flow, record_key);

-- subject_salts: per data subject, the salt of the hashes the audit log keeps of their
-- values; erasure deletes it, so the hashes no longer tie to anything.
CREATE TABLE subject_salts (
    subject     TEXT PRIMARY KEY,
    salt        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- erased_subjects: the suppression list: records of these subjects are redacted on the
-- way in, and their own records are never written to another system again.
CREATE TABLE erased_subjects (
    subject     TEXT PRIMARY KEY,
    connection  TEXT NOT NULL,
    erased_at   TEXT NOT NULL,
    actor       TEXT NOT NULL
);

-- notifications: customer-success messages (a plan upgrade), queued with the run's
-- commit and sent after it, retried until delivered.
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL UNIQUE,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT ''
);
