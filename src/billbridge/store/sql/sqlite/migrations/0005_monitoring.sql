-- Issue 6: discrepancies found by reconcile (with their age) and alert incidents
-- (each alert is sent once when its incident opens, and once more when it resolves).

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
