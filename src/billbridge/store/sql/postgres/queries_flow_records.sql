-- name: upsert_flow_record
INSERT INTO flow_records (flow, record_key, version) VALUES (%s, %s, %s)
ON CONFLICT (flow, record_key) DO UPDATE SET version = excluded.version;

-- name: upsert_flow_record_bulk
INSERT INTO flow_records (flow, record_key, version)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[])
ON CONFLICT (flow, record_key) DO UPDATE SET version = excluded.version;

-- name: flow_versions
SELECT record_key, version FROM flow_records
WHERE flow = %s AND record_key = ANY(%s::text[]);
