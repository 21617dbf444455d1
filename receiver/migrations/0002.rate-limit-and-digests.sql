-- Per-destination rate limiting and storm digests.
--   channel_send: one row per message a destination accepted (or is about to accept): the
--     dispatchers count these to stay under the per-minute budget, whichever process sends.
--   digest: one message that stands for many notifications folded during a storm.

CREATE TABLE channel_send (
    id          BIGSERIAL PRIMARY KEY,
    target      VARCHAR(50)  NOT NULL,
    sent_at     TIMESTAMPTZ  NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX channel_send_target_time_idx ON channel_send (target, sent_at);

CREATE TABLE digest (
    id          BIGSERIAL PRIMARY KEY,
    target      VARCHAR(50)  NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    state       VARCHAR(10)  NOT NULL DEFAULT 'sending'
                CHECK (state IN ('sending', 'sent', 'failed')),
    folded      INTEGER      NOT NULL,            -- how many notifications it stands for
    summary     JSONB        NOT NULL,            -- [{"alertname", "severity", "kind", "count"}]
    sent_at     TIMESTAMPTZ,
    message_id  TEXT,
    last_error  TEXT
);

ALTER TABLE notification ADD COLUMN digest_id BIGINT REFERENCES digest (id) ON DELETE SET NULL;
ALTER TABLE notification DROP CONSTRAINT notification_state_check;
ALTER TABLE notification ADD CONSTRAINT notification_state_check
    CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unsent', 'folded'));
CREATE INDEX notification_folded_idx ON notification (target) WHERE state = 'folded' AND digest_id IS NULL;
