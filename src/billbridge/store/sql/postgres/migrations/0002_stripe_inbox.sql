-- The Stripe webhook inbox: every verified event, stored before the receiver answers 2xx.
CREATE TABLE stripe_inbox (
    event_id      text PRIMARY KEY,
    connection    text NOT NULL,
    type          text NOT NULL,
    object_key    text NOT NULL,
    created       bigint NOT NULL,
    payload       bytea NOT NULL,
    received_at   timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'pending',
    processed_at  timestamptz
);

CREATE INDEX stripe_inbox_pending ON stripe_inbox (connection, status, created);

CREATE INDEX stripe_inbox_object ON stripe_inbox (object_key, status, created);
