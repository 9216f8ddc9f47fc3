-- The Stripe webhook inbox: every verified event, stored before the receiver answers 2xx.
CREATE TABLE stripe_inbox (
    event_id      TEXT PRIMARY KEY,
    connection    TEXT NOT NULL,
    type          TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    created       INTEGER NOT NULL,
    payload       BLOB NOT NULL,
    received_at   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending',
    processed_at  TEXT
);

CREATE INDEX stripe_inbox_pending ON stripe_inbox (connection, status, created);

CREATE INDEX stripe_inbox_object ON stripe_inbox (object_key, status, created);
