-- One inbox row per (event, flow). Why: two flows can read one Stripe connection (the
-- books and a QuickBooks export); with one row per event, the first flow to drain it
-- marked it processed and the other never posted it. Rows from before this migration
-- have flow '' and are taken by whichever flow of their connection drains first, as before.
DROP INDEX stripe_inbox_pending;

DROP INDEX stripe_inbox_object;

ALTER TABLE stripe_inbox RENAME TO stripe_inbox_0006;

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
    flow          TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (event_id, flow)
);

INSERT INTO stripe_inbox
    (event_id, connection, type, object_key, created, payload, received_at, status,
     processed_at, flow)
SELECT event_id, connection, type, object_key, created, payload, received_at, status,
       processed_at, ''
FROM stripe_inbox_0006;

DROP TABLE stripe_inbox_0006;

CREATE INDEX stripe_inbox_pending ON stripe_inbox (connection, status, created);

CREATE INDEX stripe_inbox_object ON stripe_inbox (object_key, status, created);
