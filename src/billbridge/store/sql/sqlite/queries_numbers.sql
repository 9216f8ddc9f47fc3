-- name: claim_invoice_number
INSERT INTO invoice_numbers (entity, series, number, seq, record_key, first_seen)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (entity, series, number) DO NOTHING;

-- name: invoice_number_owner
SELECT record_key FROM invoice_numbers WHERE entity = ? AND series = ? AND number = ?;

-- name: invoice_numbers_from
SELECT number, record_key FROM invoice_numbers
WHERE entity = ? AND series = ? AND number >= ?
ORDER BY number LIMIT ?;

-- name: invoice_numbers
SELECT entity, series, number, seq, record_key, first_seen
FROM invoice_numbers WHERE (? IS NULL OR entity = ?)
ORDER BY entity, series, seq, number;
