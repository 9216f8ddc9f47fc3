-- The version of each record a flow last processed. Why per flow: `records` holds the
-- source's snapshot once per connection, so two flows reading one Stripe connection (the
-- books and a QuickBooks export) must each decide "unchanged" from their own history.
CREATE TABLE flow_records (
    flow        text NOT NULL,
    record_key  text NOT NULL,
    version     text NOT NULL,
    PRIMARY KEY (flow, record_key)
);

-- Existing workspaces: what a flow posted or queued counts as processed at the stored
-- version. Other records (customers, balance transactions) are read once more by the next
-- run, which writes nothing for them.
INSERT INTO flow_records (flow, record_key, version)
SELECT p.flow, r.key, r.version FROM postings p JOIN records r ON r.key = p.record_key
UNION
SELECT e.flow, r.key, r.version FROM exceptions e JOIN records r ON r.key = e.record_key
ON CONFLICT DO NOTHING;
