-- Two-way pairs, field bases, conflicts, notifications and erasure (store/_twoway.py,
-- store/_privacy.py, migration 0100).

-- name: link_upsert
INSERT INTO record_links (pair, object, a_key, b_key, status, linked_at)
VALUES (%s, %s, %s, %s, 'active', %s)
ON CONFLICT (pair, a_key) DO UPDATE SET
    b_key = excluded.b_key, object = excluded.object, status = 'active', archived_at = NULL;

-- name: link_archive
UPDATE record_links SET status = 'archived', archived_at = %s WHERE pair = %s AND a_key = %s;

-- name: link_of
SELECT pair, object, a_key, b_key, status, linked_at, archived_at FROM record_links
WHERE pair = %s AND (a_key = %s OR b_key = %s);

-- name: links_of_pair
SELECT pair, object, a_key, b_key, status, linked_at, archived_at FROM record_links
WHERE pair = %s AND object = %s AND status = %s ORDER BY a_key;

-- name: links_for_key
SELECT pair, object, a_key, b_key, status, linked_at, archived_at FROM record_links
WHERE a_key = %s OR b_key = %s ORDER BY pair;

-- name: base_upsert
INSERT INTO field_bases (pair, a_key, field, value, synced_at) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (pair, a_key, field) DO UPDATE SET value = excluded.value,
    synced_at = excluded.synced_at;

-- name: bases_of
SELECT field, value FROM field_bases WHERE pair = %s AND a_key = %s ORDER BY field;

-- name: conflict_open
INSERT INTO field_conflicts (pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at,
                             a_actor, b_actor, flow, record_key, opened_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (pair, a_key, field) WHERE status = 'open' DO UPDATE SET
    base = excluded.base, a_value = excluded.a_value, b_value = excluded.b_value,
    a_at = excluded.a_at, b_at = excluded.b_at, a_actor = excluded.a_actor,
    b_actor = excluded.b_actor;

-- name: conflict_resolve
UPDATE field_conflicts SET status = 'resolved', resolution = %s, resolved_at = %s
WHERE id = %s AND status = 'open';

-- name: conflicts_open_of
SELECT id, pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at, a_actor, b_actor,
       flow, record_key, status, resolution, opened_at, resolved_at
FROM field_conflicts WHERE pair = %s AND a_key = %s AND status = 'open' ORDER BY field;

-- name: conflicts_of_record
SELECT id, pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at, a_actor, b_actor,
       flow, record_key, status, resolution, opened_at, resolved_at
FROM field_conflicts WHERE flow = %s AND record_key = %s AND status = 'open' ORDER BY field;

-- name: conflict_get
SELECT id, pair, a_key, b_key, field, base, a_value, b_value, a_at, b_at, a_actor, b_actor,
       flow, record_key, status, resolution, opened_at, resolved_at
FROM field_conflicts WHERE id = %s;

-- name: notification_add
INSERT INTO notifications (kind, subject, payload, created_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (subject) DO NOTHING;

-- name: notifications_pending
SELECT id, kind, subject, payload, created_at, sent_at, attempts, error FROM notifications
WHERE sent_at IS NULL ORDER BY id;

-- name: notifications_all
SELECT id, kind, subject, payload, created_at, sent_at, attempts, error FROM notifications
ORDER BY id;

-- name: notification_mark
UPDATE notifications SET sent_at = %s, attempts = attempts + 1, error = %s WHERE id = %s;

-- name: salt_get
SELECT salt FROM subject_salts WHERE subject = %s;

-- name: salt_put
INSERT INTO subject_salts (subject, salt, created_at) VALUES (%s, %s, %s)
ON CONFLICT (subject) DO NOTHING;

-- name: salt_delete
DELETE FROM subject_salts WHERE subject = %s;

-- name: erased_add
INSERT INTO erased_subjects (subject, connection, erased_at, actor) VALUES (%s, %s, %s, %s)
ON CONFLICT (subject) DO NOTHING;

-- name: erased_all
SELECT subject, connection FROM erased_subjects ORDER BY subject;

-- name: records_of_connection
SELECT key, connection, object, source_id, version, snapshot, seen_at FROM records
WHERE connection = %s ORDER BY key;

-- name: erase_record
UPDATE records SET snapshot = %s, version = %s WHERE key = %s;

-- name: erase_flow_version
UPDATE flow_records SET version = %s WHERE record_key = %s AND version = %s;

-- name: texts_outcomes
SELECT id, error FROM outcomes WHERE strpos(error, %s) > 0;

-- name: scrub_outcome
UPDATE outcomes SET error = %s WHERE id = %s;

-- name: texts_exceptions
SELECT id, error, hint, resolution FROM exceptions
WHERE strpos(error, %s) > 0 OR strpos(hint, %s) > 0 OR strpos(resolution, %s) > 0;

-- name: scrub_exception
UPDATE exceptions SET error = %s, hint = %s, resolution = %s WHERE id = %s;

-- name: texts_postings
SELECT id, summary FROM postings WHERE strpos(summary, %s) > 0;

-- name: scrub_posting
UPDATE postings SET summary = %s WHERE id = %s;

-- name: texts_inbox
SELECT event_id, flow, payload FROM stripe_inbox WHERE position(%s::bytea in payload) > 0;

-- name: scrub_inbox
UPDATE stripe_inbox SET payload = %s WHERE event_id = %s AND flow = %s;

-- name: texts_writebacks
SELECT id, request, error FROM writebacks
WHERE position(%s::bytea in request) > 0 OR strpos(error, convert_from(%s::bytea, 'UTF8')) > 0;

-- name: scrub_writeback
UPDATE writebacks SET request = %s, error = %s WHERE id = %s;

-- name: texts_bases
SELECT pair, a_key, field, value FROM field_bases WHERE strpos(value, %s) > 0;

-- name: scrub_base
UPDATE field_bases SET value = %s WHERE pair = %s AND a_key = %s AND field = %s;

-- name: texts_conflicts
SELECT id, base, a_value, b_value FROM field_conflicts
WHERE strpos(coalesce(base, ''), %s) > 0 OR strpos(a_value, %s) > 0 OR strpos(b_value, %s) > 0;

-- name: scrub_conflict
UPDATE field_conflicts SET base = %s, a_value = %s, b_value = %s WHERE id = %s;

-- name: texts_notifications
SELECT id, payload FROM notifications WHERE strpos(payload, %s) > 0;

-- name: scrub_notification
UPDATE notifications SET payload = %s WHERE id = %s;

-- name: texts_incidents
SELECT id, detail FROM alert_incidents WHERE strpos(detail, %s) > 0;

-- name: scrub_incident
UPDATE alert_incidents SET detail = %s WHERE id = %s;

-- name: texts_discrepancies
SELECT id, detail FROM discrepancies WHERE strpos(detail, %s) > 0;

-- name: scrub_discrepancy
UPDATE discrepancies SET detail = %s WHERE id = %s;

-- name: postings_writing
SELECT id, flow, record_key, facet, idempotency_key, version, entry_hash, target, target_ref,
       run_id, posted_at, summary, link, lines, mapping_version
FROM postings WHERE target_ref = ANY(%s) AND target_ref <> ''
ORDER BY id;

-- name: inbox_of_connection
SELECT event_id, flow, payload FROM stripe_inbox WHERE connection = %s ORDER BY event_id, flow;

-- name: bases_delete
DELETE FROM field_bases WHERE pair = %s AND a_key = %s;

-- name: conflicts_erase
UPDATE field_conflicts SET base = NULL, a_value = '"(erased)"', b_value = '"(erased)"',
    status = 'resolved', resolution = 'personal data erased',
    resolved_at = coalesce(resolved_at, %s)
WHERE pair = %s AND a_key = %s;

-- name: erase_exception_texts
UPDATE exceptions SET error = 'personal data erased (GDPR)', hint = '', resolution = ''
WHERE record_key = %s;

-- name: erase_outcome_texts
UPDATE outcomes SET error = 'personal data erased (GDPR)', hint = '' WHERE record_key = %s;
