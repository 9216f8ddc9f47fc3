-- Each posting's journal lines as posted ("account amount currency" per line), so `trace`
-- shows what went to the books even after the mapping changed; '' for postings recorded
-- before this migration, or found in the target after an interrupted run.
ALTER TABLE postings ADD COLUMN lines text NOT NULL DEFAULT '';
