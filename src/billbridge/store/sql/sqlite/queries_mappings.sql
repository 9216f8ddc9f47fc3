-- Change control (issue 17): mapping versions, promotions, tests, record approvals (0080).

-- name: insert_mapping_version
INSERT INTO mapping_versions (flow, version, content, author, created_at, comment, parent)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (flow, version) DO NOTHING RETURNING version;

-- name: get_mapping_version
SELECT flow, version, content, author, created_at, comment, parent
FROM mapping_versions WHERE flow = ? AND version = ?;

-- name: mapping_versions
SELECT flow, version, content, author, created_at, comment, parent
FROM mapping_versions WHERE flow = ? ORDER BY created_at, version;

-- name: promoted_mapping
SELECT mapping_version FROM flows WHERE name = ?;

-- name: upsert_flow_mapping
INSERT INTO flows (name, source, target, mapping, mapping_version, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
    source = excluded.source,
    target = excluded.target,
    mapping = excluded.mapping,
    mapping_version = excluded.mapping_version,
    updated_at = excluded.updated_at;

-- name: insert_promotion
INSERT INTO mapping_promotions (flow, version, previous, kind, actor, test_id, at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id;

-- name: mapping_promotions
SELECT id, flow, version, previous, kind, actor, test_id, at
FROM mapping_promotions WHERE flow = ? ORDER BY id;

-- name: insert_mapping_test
INSERT INTO mapping_tests (flow, draft, base, actor, at, records, summary)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id;

-- name: mapping_tests
SELECT id, flow, draft, base, actor, at, records, summary
FROM mapping_tests WHERE flow = ? AND (? IS NULL OR draft = ?) ORDER BY id;

-- name: insert_record_decision
INSERT INTO record_approvals (flow, record_key, version, rule, decision, reason, actor, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id;

-- name: record_decisions
SELECT id, flow, record_key, version, rule, decision, reason, actor, at
FROM record_approvals WHERE flow = ? AND record_key = ? ORDER BY id;

-- name: flow_snapshots
-- The records a flow has processed, newest first (what `mapping test` and `doctor` re-plan).
SELECT r.key, r.connection, r.object, r.source_id, r.version, r.snapshot, r.seen_at
FROM flow_records f JOIN records r ON r.key = f.record_key
WHERE f.flow = ? AND (? IS NULL OR r.seen_at >= ?)
ORDER BY r.seen_at DESC, r.key DESC
LIMIT ?;
