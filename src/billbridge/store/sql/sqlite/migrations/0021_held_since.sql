-- Since when a held record waits for what it waits for (issue 13): a hold that waits
-- longer than its flow's `hold_timeout` becomes a failed row saying what never came.
-- Kept while the row waits for the same record (a timed-out hold keeps it too), so a
-- retry that is held again does not start the clock over; NULL when it waits for nothing.
ALTER TABLE exceptions ADD COLUMN held_since TEXT;
