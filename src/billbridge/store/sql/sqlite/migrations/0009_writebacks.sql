-- Write-backs to a billing system (push a customer, mark an invoice paid, void it): one
-- row per request, written `pending` before anything is sent, so a crash after sending is
-- seen by the next attempt, which looks the object up before sending again.
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
