-- The explicit delivery lifecycle (docs/D76_ALERTING_INFRASTRUCTURE_DESIGN.md, "Lifecycle").
--
-- d76_now(): the one clock every lifecycle statement reads. It is the database's own clock,
-- so dispatchers on several hosts agree on leases and budgets; a test may shift it on its own
-- connections with `SET d76.clock_offset = '90 seconds'` to play out hours in seconds.
CREATE FUNCTION d76_now() RETURNS timestamptz LANGUAGE sql VOLATILE AS $$
    SELECT clock_timestamp()
           + COALESCE(NULLIF(current_setting('d76.clock_offset', true), ''), '0')::interval
$$;

-- Alert occurrences: a re-fire of a resolved occurrence (same fingerprint and startsAt, as
-- Prometheus restores ActiveAt after a restart) is a new row with the next episode number.
ALTER TABLE alert_history ADD COLUMN episode INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alert_history DROP CONSTRAINT alert_history_occurrence;
ALTER TABLE alert_history ADD CONSTRAINT alert_history_occurrence
    UNIQUE (fingerprint, starts_at, episode);

-- Notifications: reminders, the states of the lifecycle, the lease owner's fencing token, and
-- the fingerprint that orders every message about one alert series to one target.
ALTER TABLE notification DROP CONSTRAINT notification_once;
ALTER TABLE notification DROP CONSTRAINT notification_kind_check;
ALTER TABLE notification ADD CONSTRAINT notification_kind_check
    CHECK (kind IN ('firing', 'resolved', 'reminder'));
UPDATE notification n SET state = 'digested'
  FROM digest d WHERE d.id = n.digest_id AND n.state = 'folded' AND d.state = 'sent';
ALTER TABLE notification DROP CONSTRAINT notification_state_check;
ALTER TABLE notification ADD CONSTRAINT notification_state_check
    CHECK (state IN ('queued', 'sending', 'sent', 'folded', 'digested', 'superseded',
                     'cancelled', 'failed', 'unsent'));
CREATE UNIQUE INDEX notification_once ON notification (alert_id, kind, target)
    WHERE kind <> 'reminder';
ALTER TABLE notification ADD COLUMN fingerprint VARCHAR(64);
UPDATE notification n SET fingerprint = a.fingerprint FROM alert_history a WHERE a.id = n.alert_id;
ALTER TABLE notification ALTER COLUMN fingerprint SET NOT NULL;
ALTER TABLE notification ADD COLUMN lease_owner TEXT;
ALTER TABLE notification ADD COLUMN claim_token BIGINT;
ALTER TABLE notification ADD COLUMN give_up_at TIMESTAMPTZ;
ALTER TABLE notification ALTER COLUMN next_attempt_at SET DEFAULT d76_now();
ALTER TABLE notification ALTER COLUMN created_at SET DEFAULT d76_now();
CREATE SEQUENCE claim_token_seq;
-- Messages about one alert series to one target go out in order: the head of each line.
CREATE INDEX notification_line_idx ON notification (fingerprint, target, id)
    WHERE state IN ('queued', 'sending', 'folded');
-- Every message of one alert (ingest's reminder check, a claim's reply-to, the lifecycle API).
CREATE INDEX notification_alert_idx ON notification (alert_id);
DROP INDEX notification_due_idx;
CREATE INDEX notification_due_idx ON notification (priority, id)
    WHERE state IN ('queued', 'sending');

ALTER TABLE notification_attempt ALTER COLUMN attempted_at SET DEFAULT d76_now();
-- sent, retry, throttled, unknown (may have been delivered), failed, unsent, superseded,
-- cancelled; late-<outcome> when the claim had been lost (its write changed nothing).
ALTER TABLE notification_attempt ALTER COLUMN outcome TYPE VARCHAR(20);
ALTER TABLE channel_send ALTER COLUMN sent_at SET DEFAULT d76_now();
ALTER TABLE alert_action ALTER COLUMN at SET DEFAULT d76_now();

-- Digests: one pending digest per target collects folded notifications; it is claimed under a
-- lease like a notification, and a failed send returns it to pending.
ALTER TABLE digest DROP CONSTRAINT digest_state_check;
UPDATE digest SET state = 'failed' WHERE state = 'sending';
ALTER TABLE digest ADD CONSTRAINT digest_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'failed'));
ALTER TABLE digest ALTER COLUMN state SET DEFAULT 'pending';
ALTER TABLE digest ALTER COLUMN created_at SET DEFAULT d76_now();
ALTER TABLE digest ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT d76_now();
ALTER TABLE digest ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE digest ADD COLUMN lease_owner TEXT;
ALTER TABLE digest ADD COLUMN claim_token BIGINT;
ALTER TABLE digest ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- Sends that timed out after they may have been delivered: each may be a duplicate.
ALTER TABLE digest ADD COLUMN unknown_outcomes INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX digest_one_pending ON digest (target) WHERE state = 'pending';
-- Folded notifications not yet told join their target's pending digest.
INSERT INTO digest (target, folded, summary, state)
SELECT target, count(*), '[]', 'pending' FROM notification WHERE state = 'folded' GROUP BY target;
UPDATE notification n SET digest_id = d.id
  FROM digest d WHERE d.state = 'pending' AND d.target = n.target AND n.state = 'folded';

-- Destinations: a channel that answered 429 or failed transiently is paused as a whole, so
-- one outage or one retry_after costs one probe at a time instead of every queued message.
CREATE TABLE destination (
    target        VARCHAR(50)  PRIMARY KEY,
    paused_until  TIMESTAMPTZ,
    failures      INTEGER      NOT NULL DEFAULT 0,   -- consecutive transient failures
    last_error    TEXT,
    updated_at    TIMESTAMPTZ  NOT NULL DEFAULT d76_now()
);

-- The daily summary is retried until sent: attempts and the next try.
ALTER TABLE daily_summary ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_summary ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT d76_now();
