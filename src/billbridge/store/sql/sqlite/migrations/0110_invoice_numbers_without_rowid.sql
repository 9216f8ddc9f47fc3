-- Issue 19: one B-tree fewer per invoice on the write path. A rowid table keeps its rows
-- in one B-tree and its primary key in a second; WITHOUT ROWID keeps the rows in the
-- primary key's own B-tree, which is every look-up this table serves (claim, owner, the
-- window of numbers after one). Rebuilt through a temporary copy, so the table's SQL
-- stays as schema.sql writes it.
CREATE TEMP TABLE invoice_numbers_0110 AS SELECT * FROM invoice_numbers;
DROP TABLE invoice_numbers;
CREATE TABLE invoice_numbers (
    entity      TEXT NOT NULL,
    series      TEXT NOT NULL,
    number      TEXT NOT NULL,
    seq         INTEGER,
    record_key  TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    PRIMARY KEY (entity, series, number)
) WITHOUT ROWID;
INSERT INTO invoice_numbers (entity, series, number, seq, record_key, first_seen)
SELECT entity, series, number, seq, record_key, first_seen FROM temp.invoice_numbers_0110;
DROP TABLE temp.invoice_numbers_0110;
