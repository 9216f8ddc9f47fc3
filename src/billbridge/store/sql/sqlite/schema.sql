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
);
CREATE INDEX runs_flow_idx ON runs (flow, id);

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

CREATE TABLE invoice_numbers (
    entity      TEXT NOT NULL,
    series      TEXT NOT NULL,
    number      TEXT NOT NULL,
    seq         INTEGER,
    record_key  TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    PRIMARY KEY (entity, series, number)
);
