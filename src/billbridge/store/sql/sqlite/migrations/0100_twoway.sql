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
