-- name: claim_invoice_number
INSERT INTO invoice_numbers (entity, series, number, seq, record_key, first_seen)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (entity, series, number) DO NOTHING;

-- name: claim_invoice_number_bulk
-- A batch's claims in one statement (Store.commit); DO NOTHING keeps the first claim of a
-- number, within the batch as across batches, as the one-row form does.
INSERT INTO invoice_numbers (entity, series, number, seq, record_key, first_seen)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::bigint[], %b::text[],
                     %b::timestamptz[])
ON CONFLICT (entity, series, number) DO NOTHING;

-- name: invoice_number_owner
SELECT record_key FROM invoice_numbers WHERE entity = %s AND series = %s AND number = %s;

-- name: invoice_numbers_from
-- `number` is COLLATE "C" (migration 0120): code point order, as Python compares str, so
-- the window the sync reads is the one it checks (_numbers.py); the primary key serves it.
SELECT number, record_key FROM invoice_numbers
WHERE entity = %s AND series = %s AND number >= %s
ORDER BY number LIMIT %s;

-- name: invoice_numbers
SELECT entity, series, number, seq, record_key, first_seen
FROM invoice_numbers WHERE (%s::text IS NULL OR entity = %s)
ORDER BY entity, series, seq, number;
