-- Who runs a run, and how it ended (issue 13): the process that started it (`host`, `pid`,
-- and `owner`, a token unique to that run in that process), its last sign of life
-- (`heartbeat_at`, written as it commits) and, for a run that ended by an exception or was
-- found dead, the error. A run left `running` by a killed process is marked `crashed` by
-- the next run of its flow.
ALTER TABLE runs ADD COLUMN host text NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN pid bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE runs ADD COLUMN error text NOT NULL DEFAULT '';
CREATE INDEX runs_running_idx ON runs (flow) WHERE status = 'running';
