-- name: upsert_flow_record
INSERT INTO flow_records (flow, record_key, version) VALUES (?, ?, ?)
ON CONFLICT (flow, record_key) DO UPDATE SET version = excluded.version;

-- name: flow_versions
SELECT record_key, version FROM flow_records
WHERE flow = ? AND record_key IN (SELECT value FROM json_each(?));
