-- "Mute until resolved" and silences pausing the escalation timer.
--   escalation.state 'silenced': an Alertmanager silence (Silence 1h, Mute, a chat command)
--     pauses reminders until it ends (resume_at), or until the resolve (a mute).
--   mute: the silences the receiver made "until resolved". Alertmanager tells nothing of a
--     silenced alert, its resolve included, so a dispatcher polls Alertmanager for the muted
--     occurrences, records the resolve, and expires the silence (retried until it is).
ALTER TABLE escalation DROP CONSTRAINT escalation_state_check;
ALTER TABLE escalation ADD CONSTRAINT escalation_state_check
    CHECK (state IN ('waiting', 'acknowledged', 'silenced', 'done'));

CREATE TABLE mute (
    id               BIGSERIAL    PRIMARY KEY,
    alert_id         BIGINT       NOT NULL,   -- no foreign key (partitioned history, 0011)
    alert_ts         TIMESTAMPTZ  NOT NULL,   -- the alert's timestamp: pruned with its month
    silence_id       TEXT         NOT NULL,
    state            VARCHAR(10)  NOT NULL DEFAULT 'active'
                     CHECK (state IN ('active', 'expiring', 'expired', 'failed')),
    created_by       TEXT         NOT NULL,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    missing_since    TIMESTAMPTZ,            -- Alertmanager has not listed the alert since
    attempts         INTEGER      NOT NULL DEFAULT 0,   -- tries to expire the silence
    next_attempt_at  TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    last_error       TEXT,
    finished_at      TIMESTAMPTZ
);
CREATE INDEX mute_open_idx ON mute (state, next_attempt_at) WHERE state IN ('active', 'expiring');
CREATE INDEX mute_alert_idx ON mute (alert_id);

-- Maintenance windows opened from the chat (/maintenance <exchange> <duration>): an
-- Alertmanager silence on exchange=<name>; the history marks alerts that started inside one.
CREATE TABLE maintenance_window (
    id          BIGSERIAL    PRIMARY KEY,
    name        TEXT         NOT NULL,
    exchange    TEXT         NOT NULL,
    starts_at   TIMESTAMPTZ  NOT NULL,
    ends_at     TIMESTAMPTZ  NOT NULL,
    reason      TEXT         NOT NULL DEFAULT '',
    created_by  TEXT         NOT NULL,
    silence_id  TEXT
);
CREATE INDEX maintenance_window_exchange_idx ON maintenance_window (exchange, ends_at);
