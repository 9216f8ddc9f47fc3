-- One inbox row per (event, flow). Why: two flows can read one Stripe connection (the
-- books and a QuickBooks export); with one row per event, the first flow to drain it
-- marked it processed and the other never posted it. Rows from before this migration
-- have flow '' and are taken by whichever flow of their connection drains first, as before.
ALTER TABLE stripe_inbox ADD COLUMN flow text NOT NULL DEFAULT '';

ALTER TABLE stripe_inbox DROP CONSTRAINT stripe_inbox_pkey;

ALTER TABLE stripe_inbox ADD PRIMARY KEY (event_id, flow);
