-- Invoice numbers seen per entity and series: duplicates fail, gaps are reported.
CREATE TABLE invoice_numbers (
    entity      TEXT NOT NULL,
    series      TEXT NOT NULL,
    number      TEXT NOT NULL,
    seq         INTEGER,
    record_key  TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    PRIMARY KEY (entity, series, number)
);
