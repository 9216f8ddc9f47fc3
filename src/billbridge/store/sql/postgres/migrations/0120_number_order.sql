-- Invoice numbers compare by code point (issue 19): the "C" collation orders text as
-- UTF-8 bytes, which is Python's str order, so a sync can read a window of claimed
-- numbers from N on in one query (queries_numbers.sql: invoice_numbers_from) instead of
-- one query per invoice. Equality is unchanged (a deterministic collation compares equal
-- only identical text), so the primary key keeps exactly the numbers it kept; the index
-- behind it is rebuilt in the new order.
ALTER TABLE invoice_numbers ALTER COLUMN number TYPE text COLLATE "C";
