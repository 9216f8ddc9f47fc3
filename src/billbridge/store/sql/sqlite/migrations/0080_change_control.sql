-- 0080: change control (issue 17): roles mapper and approver, mapping versions (immutable),
-- their promotions and tests, and decisions on records held for approval.
--
-- SQLite cannot alter a CHECK constraint, so `users` is rebuilt. Foreign keys are on and
-- `api_tokens` and `web_sessions` reference `users` ON DELETE CASCADE: dropping `users`
-- while they exist would delete every token and session. So all three are copied aside,
-- dropped children first (nothing left to cascade to), created again under their own
-- names and filled back, keeping token ids and the AUTOINCREMENT counter (a revoked
-- token's id is never handed out again).
CREATE TABLE users_0080 AS SELECT name, role, password_hash, created_at FROM users;
CREATE TABLE api_tokens_0080 AS
    SELECT id, user_name, token_hash, label, created_at, expires_at, revoked_at, last_used_at
    FROM api_tokens;
CREATE TABLE web_sessions_0080 AS
    SELECT session_hash, user_name, csrf, created_at, expires_at FROM web_sessions;
CREATE TABLE api_tokens_seq_0080 AS SELECT seq FROM sqlite_sequence WHERE name = 'api_tokens';

DROP TABLE web_sessions;
DROP TABLE api_tokens;
DROP TABLE users;

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

INSERT INTO users (name, role, password_hash, created_at)
    SELECT name, role, password_hash, created_at FROM users_0080;
INSERT INTO api_tokens (id, user_name, token_hash, label, created_at, expires_at, revoked_at,
                        last_used_at)
    SELECT id, user_name, token_hash, label, created_at, expires_at, revoked_at, last_used_at
    FROM api_tokens_0080;
INSERT INTO web_sessions (session_hash, user_name, csrf, created_at, expires_at)
    SELECT session_hash, user_name, csrf, created_at, expires_at FROM web_sessions_0080;
DELETE FROM sqlite_sequence WHERE name = 'api_tokens';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'api_tokens', top FROM (
        SELECT max(seq) AS top FROM (
            SELECT seq FROM api_tokens_seq_0080 UNION ALL SELECT max(id) FROM api_tokens
        )
    ) WHERE top IS NOT NULL;

DROP TABLE users_0080;
DROP TABLE api_tokens_0080;
DROP TABLE web_sessions_0080;
DROP TABLE api_tokens_seq_0080;

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

-- Each posting names the mapping version that planned it ("" for postings before 0080).
ALTER TABLE postings ADD COLUMN mapping_version TEXT NOT NULL DEFAULT '';
