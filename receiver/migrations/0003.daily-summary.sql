-- One row per day whose summary report was sent (or tried): several dispatchers may run,
-- the first to insert the day's row sends it.
CREATE TABLE daily_summary (
    day         DATE         PRIMARY KEY,
    state       VARCHAR(10)  NOT NULL CHECK (state IN ('sending', 'sent', 'failed', 'unsent')),
    started_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    error       TEXT
);
