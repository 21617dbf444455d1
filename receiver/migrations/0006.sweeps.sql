-- Failed notifications are swept back into the queue later (a Telegram outage outlasts the
-- retries; a wrong token gets fixed): how many times each has been swept.
ALTER TABLE notification ADD COLUMN sweeps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notification ADD COLUMN failed_at TIMESTAMPTZ;
CREATE INDEX notification_failed_idx ON notification (failed_at) WHERE state = 'failed';
