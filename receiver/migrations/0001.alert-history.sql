-- The alert history (the seed's alert_history columns, plus what a real history needs)
-- and the outbox of notifications the dispatcher delivers.

CREATE TABLE alert_history (
    id               BIGSERIAL PRIMARY KEY,
    timestamp        TIMESTAMPTZ  NOT NULL,              -- when the alert started (startsAt)
    severity         VARCHAR(10)  NOT NULL,              -- P0, P1, P2, P3
    source           VARCHAR(50)  NOT NULL,              -- RateLimiter, ExchangeHealth, ...
    title            VARCHAR(200) NOT NULL,
    message          TEXT         NOT NULL,
    metadata         JSONB,
    acknowledged     BOOLEAN      NOT NULL DEFAULT FALSE,
    acknowledged_at  TIMESTAMPTZ,
    acknowledged_by  TEXT,
    fingerprint      VARCHAR(64)  NOT NULL,
    alertname        TEXT         NOT NULL,
    status           VARCHAR(10)  NOT NULL CHECK (status IN ('firing', 'resolved')),
    starts_at        TIMESTAMPTZ  NOT NULL,
    ends_at          TIMESTAMPTZ,
    labels           JSONB        NOT NULL,
    annotations      JSONB        NOT NULL,
    generator_url    TEXT         NOT NULL DEFAULT '',
    receiver         TEXT         NOT NULL DEFAULT '',
    received_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT alert_history_occurrence UNIQUE (fingerprint, starts_at)
);

CREATE INDEX alert_history_timestamp_idx ON alert_history (timestamp DESC, id DESC);
CREATE INDEX alert_history_severity_timestamp_idx ON alert_history (severity, timestamp DESC);

CREATE TABLE notification (
    id               BIGSERIAL PRIMARY KEY,
    alert_id         BIGINT       NOT NULL REFERENCES alert_history (id) ON DELETE CASCADE,
    kind             VARCHAR(10)  NOT NULL CHECK (kind IN ('firing', 'resolved')),
    target           VARCHAR(50)  NOT NULL,              -- telegram, ...
    priority         SMALLINT     NOT NULL,              -- 0 for P0 ... 3 for P3, 9 unknown
    state            VARCHAR(10)  NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unsent')),
    attempts         INTEGER      NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    lease_until      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    sent_at          TIMESTAMPTZ,
    message_id       TEXT,                               -- the channel's id for the message sent
    last_error       TEXT,
    CONSTRAINT notification_once UNIQUE (alert_id, kind, target)
);

-- The dispatcher's claim: due work in priority order.
CREATE INDEX notification_due_idx ON notification (priority, next_attempt_at, id)
    WHERE state IN ('queued', 'sending');

CREATE TABLE notification_attempt (
    id               BIGSERIAL PRIMARY KEY,
    notification_id  BIGINT       NOT NULL REFERENCES notification (id) ON DELETE CASCADE,
    attempted_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    outcome          VARCHAR(10)  NOT NULL,              -- sent, retry, failed, unsent
    duration_ms      INTEGER      NOT NULL,
    message_id       TEXT,
    error            TEXT
);

CREATE INDEX notification_attempt_notification_idx ON notification_attempt (notification_id);
