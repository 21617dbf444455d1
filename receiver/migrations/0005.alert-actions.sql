-- What people did about an alert: acknowledged it, silenced it (who, when, details).
CREATE TABLE alert_action (
    id          BIGSERIAL PRIMARY KEY,
    alert_id    BIGINT       NOT NULL REFERENCES alert_history (id) ON DELETE CASCADE,
    action      VARCHAR(20)  NOT NULL,            -- ack, silence
    actor       TEXT         NOT NULL,            -- e.g. telegram:@alice
    at          TIMESTAMPTZ  NOT NULL DEFAULT now(),
    detail      JSONB        NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_action_alert_idx ON alert_action (alert_id, at);
