-- Change control (issue 17): mapping versions, promotions, tests, record approvals (0080).

-- name: insert_mapping_version
INSERT INTO mapping_versions (flow, version, content, author, created_at, comment, parent)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (flow, version) DO NOTHING RETURNING version;

-- name: get_mapping_version
SELECT flow, version, content, author, created_at, comment, parent
FROM mapping_versions WHERE flow = %s AND version = %s;

-- name: mapping_versions
SELECT flow, version, content, author, created_at, comment, parent
FROM mapping_versions WHERE flow = %s ORDER BY created_at, version;

-- name: promoted_mapping
SELECT mapping_version FROM flows WHERE name = %s;

-- name: upsert_flow_mapping
INSERT INTO flows (name, source, target, mapping, mapping_version, updated_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (name) DO UPDATE SET
    source = excluded.source,
    target = excluded.target,
    mapping = excluded.mapping,
    mapping_version = excluded.mapping_version,
    updated_at = excluded.updated_at;

-- name: insert_promotion
INSERT INTO mapping_promotions (flow, version, previous, kind, actor, test_id, at)
VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id;

-- name: mapping_promotions
SELECT id, flow, version, previous, kind, actor, test_id, at
FROM mapping_promotions WHERE flow = %s ORDER BY id;

-- name: insert_mapping_test
INSERT INTO mapping_tests (flow, draft, base, actor, at, records, summary)
VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id;

-- name: mapping_tests
SELECT id, flow, draft, base, actor, at, records, summary
FROM mapping_tests WHERE flow = %s AND (%s::text IS NULL OR draft = %s) ORDER BY id;

-- name: insert_record_decision
INSERT INTO record_approvals (flow, record_key, version, rule, decision, reason, actor, at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id;

-- name: record_decisions
SELECT id, flow, record_key, version, rule, decision, reason, actor, at
FROM record_approvals WHERE flow = %s AND record_key = %s ORDER BY id;

-- name: flow_snapshots
-- The records a flow has processed, newest first (what `mapping test` and `doctor` re-plan).
SELECT r.key, r.connection, r.object, r.source_id, r.version, r.snapshot, r.seen_at
FROM flow_records f JOIN records r ON r.key = f.record_key
WHERE f.flow = %s AND (%s::timestamptz IS NULL OR r.seen_at >= %s)
ORDER BY r.seen_at DESC, r.key DESC
LIMIT %s;
