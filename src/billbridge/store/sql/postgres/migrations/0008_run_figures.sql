-- What reading cost each run, as its source counted it (issue 6): requests sent, waits
-- for the rate limit (client-side pacing plus backoffs after HTTP 429) and their seconds,
-- and 429 answers. A run whose source counts nothing (an export file) has no row.
CREATE TABLE run_figures (
    run_id                   bigint PRIMARY KEY REFERENCES runs (id),
    requests                 bigint NOT NULL,
    rate_limit_waits         bigint NOT NULL,
    rate_limit_wait_seconds  double precision NOT NULL,
    throttled                bigint NOT NULL
);

-- Webhook lag reads the newest event received per connection.
CREATE INDEX stripe_inbox_received ON stripe_inbox (connection, received_at);
