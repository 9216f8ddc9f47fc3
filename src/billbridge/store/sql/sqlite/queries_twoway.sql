-- Two-way pairs, field bases, conflicts, notifications and erasure (store/_twoway.py,
-- store/_privacy.py, migration 0100).

-- name: link_upsert
INSERT INTO record_links (pair, object, a_key, b_key, status, linked_at)
VALUES (?, ?, ?, ?, 'active', ?)
ON CONFLICT (pair, a_key) DO UPDATE SET
    b_key = excluded.b_key, object = excluded.object, status = 'active', archived_at = NULL;

-- name: link_archive
UPDATE record_links SET status = 'archived', archived_at = ? WHERE pair = ? AND a_key = ?;

-- name: link_of
SELECT pair, object, a_key, b_key, status, linked_at, archived_at FROM record_links
WHERE pair = ? AND (a_key = ? OR b_key = ?);

-- name: links_of_pair
SELECT pair, object, a_key, b_key, status, linked_at, archived_at FROM record_links
WHERE pair = ? AND object = ? AND status = ? ORDER BY a_key;

-- name: links_for_key
SELECT pair, object, a_key, b_key, status, linked_at, archived_at FROM record_links
WHERE a_key = ? OR b_key = ? ORDER BY pair;

-- name: base_upsert
INSERT INTO field_bases (pair, a_key, field, value, synced_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (pair, a_key, field) DO UPDATE SET value = excluded.value,
    synced_at = excluded.synced_at;

-- name: bases_of
SELECT field, value FROM field_bases WHERE pair = ? AND a_key = ? ORDER BY field;

-- name: conflict_open
INSERT INTO field_conflicts (pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at,
                             a_actor, b_actor, flow, record_key, opened_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (pair, a_key, field) WHERE status = 'open' DO UPDATE SET
    base = excluded.base, a_value = excluded.a_value, b_value = excluded.b_value,
    a_at = excluded.a_at, b_at = excluded.b_at, a_actor = excluded.a_actor,
    b_actor = excluded.b_actor;

-- name: conflict_resolve
UPDATE field_conflicts SET status = 'resolved', resolution = ?, resolved_at = ?
WHERE id = ? AND status = 'open';

-- name: conflicts_open_of
SELECT id, pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at, a_actor, b_actor,
       flow, record_key, status, resolution, opened_at, resolved_at
FROM field_conflicts WHERE pair = ? AND a_key = ? AND status = 'open' ORDER BY field;

-- name: conflicts_of_record
SELECT id, pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at, a_actor, b_actor,
       flow, record_key, status, resolution, opened_at, resolved_at
FROM field_conflicts WHERE flow = ? AND record_key = ? AND status = 'open' ORDER BY field;

-- name: conflict_get
SELECT id, pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at, a_actor, b_actor,
       flow, record_key, status, resolution, opened_at, resolved_at
FROM field_conflicts WHERE id = ?;

-- name: notification_add
INSERT INTO notifications (kind, subject, payload, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT (subject) DO NOTHING;

-- name: notifications_pending
SELECT id, kind, subject, payload, created_at, sent_at, attempts, error FROM notifications
WHERE sent_at IS NULL ORDER BY id;

-- name: notifications_all
SELECT id, kind, subject, payload, created_at, sent_at, attempts, error FROM notifications
ORDER BY id;

-- name: notification_mark
UPDATE notifications SET sent_at = ?, attempts = attempts + 1, error = ? WHERE id = ?;

-- name: salt_get
SELECT salt FROM subject_salts WHERE subject = ?;

-- name: salt_put
INSERT INTO subject_salts (subject, salt, created_at) VALUES (?, ?, ?)
ON CONFLICT (subject) DO NOTHING;

-- name: salt_delete
DELETE FROM subject_salts WHERE subject = ?;

-- name: erased_add
INSERT INTO erased_subjects (subject, connection, erased_at, actor) VALUES (?, ?, ?, ?)
ON CONFLICT (subject) DO NOTHING;

-- name: erased_all
SELECT subject, connection FROM erased_subjects ORDER BY subject;

-- name: records_of_connection
SELECT key, connection, object, source_id, version, snapshot, seen_at FROM records
WHERE connection = ? ORDER BY key;

-- name: erase_record
UPDATE records SET snapshot = ?, version = ? WHERE key = ?;

-- name: erase_flow_version
UPDATE flow_records SET version = ? WHERE record_key = ? AND version = ?;

-- name: texts_outcomes
SELECT id, error FROM outcomes WHERE instr(error, ?) > 0;

-- name: scrub_outcome
UPDATE outcomes SET error = ? WHERE id = ?;

-- name: texts_exceptions
SELECT id, error, hint, resolution FROM exceptions
WHERE instr(error, ?) > 0 OR instr(hint, ?) > 0 OR instr(resolution, ?) > 0;

-- name: scrub_exception
UPDATE exceptions SET error = ?, hint = ?, resolution = ? WHERE id = ?;

-- name: texts_postings
SELECT id, summary FROM postings WHERE instr(summary, ?) > 0;

-- name: scrub_posting
UPDATE postings SET summary = ? WHERE id = ?;

-- name: texts_inbox
SELECT event_id, flow, payload FROM stripe_inbox WHERE instr(payload, ?) > 0;

-- name: scrub_inbox
UPDATE stripe_inbox SET payload = ? WHERE event_id = ? AND flow = ?;

-- name: texts_writebacks
SELECT id, request, error FROM writebacks
WHERE instr(request, ?) > 0 OR instr(CAST(error AS BLOB), ?) > 0;

-- name: scrub_writeback
UPDATE writebacks SET request = ?, error = ? WHERE id = ?;

-- name: texts_bases
SELECT pair, a_key, field, value FROM field_bases WHERE instr(value, ?) > 0;

-- name: scrub_base
UPDATE field_bases SET value = ? WHERE pair = ? AND a_key = ? AND field = ?;

-- name: texts_conflicts
SELECT id, base, a_value, b_value FROM field_conflicts
WHERE instr(coalesce(base, ''), ?) > 0 OR instr(a_value, ?) > 0 OR instr(b_value, ?) > 0;

-- name: scrub_conflict
UPDATE field_conflicts SET base = ?, a_value = ?, b_value = ? WHERE id = ?;

-- name: texts_notifications
SELECT id, payload FROM notifications WHERE instr(payload, ?) > 0;

-- name: scrub_notification
UPDATE notifications SET payload = ? WHERE id = ?;

-- name: texts_incidents
SELECT id, detail FROM alert_incidents WHERE instr(detail, ?) > 0;

-- name: scrub_incident
UPDATE alert_incidents SET detail = ? WHERE id = ?;

-- name: texts_discrepancies
SELECT id, detail FROM discrepancies WHERE instr(detail, ?) > 0;

-- name: scrub_discrepancy
UPDATE discrepancies SET detail = ? WHERE id = ?;

-- name: postings_writing
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE target_ref IN (SELECT value FROM json_each(?)) AND target_ref <> ''
ORDER BY id;

-- name: inbox_of_connection
SELECT event_id, flow, payload FROM stripe_inbox WHERE connection = ? ORDER BY event_id, flow;

-- name: bases_delete
DELETE FROM field_bases WHERE pair = ? AND a_key = ?;

-- name: conflicts_erase
UPDATE field_conflicts SET base = NULL, a_value = '"(erased)"', b_value = '"(erased)"',
    status = 'resolved', resolution = 'personal data erased',
    resolved_at = coalesce(resolved_at, ?)
WHERE pair = ? AND a_key = ?;

-- name: erase_exception_texts
UPDATE exceptions SET error = 'personal data erased (GDPR)', hint = '', resolution = ''
WHERE record_key = ?;

-- name: erase_outcome_texts
UPDATE outcomes SET error = 'personal data erased (GDPR)', hint = '' WHERE record_key = ?;
