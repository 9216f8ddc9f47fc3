-- name: claim_invoice_number
INSERT INTO invoice_numbers (entity, series, number, seq, record_key, first_seen)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (entity, series, number) DO NOTHING;

-- name: invoice_number_owner
SELECT record_key FROM invoice_numbers WHERE entity = %s AND series = %s AND number = %s;

-- No invoice_numbers_from here (SQLite has it): `number >= %s ORDER BY number` follows the
-- database's collation, which Python cannot mirror, so a window is one number (_numbers.py).

-- name: invoice_numbers
SELECT entity, series, number, seq, record_key, first_seen
FROM invoice_numbers WHERE (%s::text IS NULL OR entity = %s)
ORDER BY entity, series, seq, number;
