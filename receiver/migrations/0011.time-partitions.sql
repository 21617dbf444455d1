-- The history and its outbox, partitioned by month (docs/D76_ALERTING_INFRASTRUCTURE_DESIGN.md,
-- "Schema"): alert_history by its timestamp (the alert's startsAt), and notification,
-- notification_attempt and alert_action by the same time, that of their alert (alert_ts). An
-- alert and everything about it live in the same month, so retention drops whole months of the
-- four tables together (python -m receiver prune) instead of deleting row by row.
--
-- Partitions are made by the product (d76_ensure_partitions below, called at migrate and by the
-- dispatcher's chores, some months ahead), not pg_partman: a managed PostgreSQL given by
-- DATABASE_URL may not offer the extension, and four co-partitioned tables need no more than
-- this function. A default partition takes what falls outside the months made (an alert whose
-- startsAt is older than the oldest month kept, or far in the future), so no insert can fail.
--
-- Uniqueness: a unique index of a partitioned table must hold its partition key. One occurrence
-- is (fingerprint, starts_at, episode) and timestamp = starts_at (checked), so the occurrence's
-- rows all fall in one partition, where (fingerprint, starts_at, episode, timestamp) is unique:
-- the occurrence is unique across partitions. notification_once likewise adds alert_ts, which
-- alert_id determines.
--
-- Foreign keys: the three tables no longer reference alert_history (nor notification_attempt
-- notification). A key to a partitioned table must name its partition key too, each insert's
-- check then goes through partition routing (measured: 30 us a row, against 7 us to a plain
-- table and 2 us without a key), and a referenced partition cannot be dropped before its
-- referencing rows are gone. The product writes these rows only for an alert it holds, and
-- prune removes them with their alert (same months dropped, the rest deleted by alert_ts).
--
-- An existing database is converted in this migration, in one transaction: its rows are
-- copied into the partitioned tables (months of the last 400 days get partitions, older rows
-- go to the default one) and the old tables dropped. Ids and sequences are kept.

CREATE FUNCTION d76_ensure_partitions(first_month date, last_month date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    parents CONSTANT text[] := ARRAY['alert_history', 'notification', 'notification_attempt',
                                     'alert_action'];
    keys CONSTANT text[] := ARRAY['timestamp', 'alert_ts', 'alert_ts', 'alert_ts'];
    month date := date_trunc('month', first_month)::date;
    lower_bound timestamptz;
    upper_bound timestamptz;
    crowded boolean;
    created integer := 0;
BEGIN
    WHILE month <= last_month LOOP
        lower_bound := month::timestamp AT TIME ZONE 'UTC';
        upper_bound := (month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        FOR i IN 1 .. array_length(parents, 1) LOOP
            CONTINUE WHEN to_regclass(format('%s_p%s', parents[i], to_char(month, 'YYYY_MM')))
                          IS NOT NULL;
            -- Rows of that month already in the default partition would have to move first:
            -- leave the month to the default partition (correct, only not dropped whole).
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)',
                           parents[i] || '_default', keys[i], keys[i])
               INTO crowded USING lower_bound, upper_bound;
            IF crowded THEN
                RAISE WARNING 'd76: %_default holds rows of %; that month stays there',
                              parents[i], to_char(month, 'YYYY-MM');
                CONTINUE;
            END IF;
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           format('%s_p%s', parents[i], to_char(month, 'YYYY_MM')), parents[i],
                           lower_bound, upper_bound);
            created := created + 1;
        END LOOP;
        month := (month + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;

-- The unpartitioned tables step aside, with their indexes and constraints.
ALTER TABLE alert_action DROP CONSTRAINT alert_action_alert_id_fkey;
ALTER TABLE notification DROP CONSTRAINT notification_alert_id_fkey;
ALTER TABLE notification_attempt DROP CONSTRAINT notification_attempt_notification_id_fkey;
ALTER TABLE notification DROP CONSTRAINT notification_digest_id_fkey;
ALTER TABLE alert_history RENAME TO unpartitioned_alert_history;
ALTER TABLE notification RENAME TO unpartitioned_notification;
ALTER TABLE notification_attempt RENAME TO unpartitioned_notification_attempt;
ALTER TABLE alert_action RENAME TO unpartitioned_alert_action;
ALTER INDEX alert_history_pkey RENAME TO unpartitioned_alert_history_pkey;
ALTER INDEX alert_history_occurrence RENAME TO unpartitioned_alert_history_occurrence;
ALTER INDEX alert_history_timestamp_idx RENAME TO unpartitioned_alert_history_timestamp_idx;
ALTER INDEX alert_history_severity_timestamp_idx
    RENAME TO unpartitioned_alert_history_severity_timestamp_idx;
ALTER INDEX alert_history_source_timestamp_idx
    RENAME TO unpartitioned_alert_history_source_timestamp_idx;
ALTER INDEX alert_history_alertname_timestamp_idx
    RENAME TO unpartitioned_alert_history_alertname_timestamp_idx;
ALTER INDEX alert_history_labels_idx RENAME TO unpartitioned_alert_history_labels_idx;
ALTER INDEX notification_pkey RENAME TO unpartitioned_notification_pkey;
ALTER INDEX notification_once RENAME TO unpartitioned_notification_once;
ALTER INDEX notification_due_idx RENAME TO unpartitioned_notification_due_idx;
ALTER INDEX notification_line_idx RENAME TO unpartitioned_notification_line_idx;
ALTER INDEX notification_alert_idx RENAME TO unpartitioned_notification_alert_idx;
ALTER INDEX notification_folded_idx RENAME TO unpartitioned_notification_folded_idx;
ALTER INDEX notification_sent_at_idx RENAME TO unpartitioned_notification_sent_at_idx;
ALTER INDEX notification_failed_idx RENAME TO unpartitioned_notification_failed_idx;
ALTER INDEX notification_attempt_pkey RENAME TO unpartitioned_notification_attempt_pkey;
ALTER INDEX notification_attempt_notification_idx
    RENAME TO unpartitioned_notification_attempt_notification_idx;
ALTER INDEX alert_action_pkey RENAME TO unpartitioned_alert_action_pkey;
ALTER INDEX alert_action_alert_idx RENAME TO unpartitioned_alert_action_alert_idx;

CREATE TABLE alert_history (
    id               BIGINT       NOT NULL DEFAULT nextval('alert_history_id_seq'),
    timestamp        TIMESTAMPTZ  NOT NULL,              -- when the alert started (startsAt)
    severity         VARCHAR(10)  NOT NULL,
    source           VARCHAR(50)  NOT NULL,
    title            VARCHAR(200) NOT NULL,
    message          TEXT         NOT NULL,
    metadata         JSONB,
    acknowledged     BOOLEAN      NOT NULL DEFAULT FALSE,
    acknowledged_at  TIMESTAMPTZ,
    acknowledged_by  TEXT,
    fingerprint      VARCHAR(64)  NOT NULL,
    alertname        TEXT         NOT NULL,
    status           VARCHAR(10)  NOT NULL
                     CONSTRAINT alert_history_status_check CHECK (status IN ('firing', 'resolved')),
    starts_at        TIMESTAMPTZ  NOT NULL,
    ends_at          TIMESTAMPTZ,
    labels           JSONB        NOT NULL,
    annotations      JSONB        NOT NULL,
    generator_url    TEXT         NOT NULL DEFAULT '',
    receiver         TEXT         NOT NULL DEFAULT '',
    received_at      TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    episode          INTEGER      NOT NULL DEFAULT 1,
    CONSTRAINT alert_history_starts_at_is_timestamp CHECK (timestamp = starts_at),
    CONSTRAINT alert_history_pkey PRIMARY KEY (id, timestamp),
    CONSTRAINT alert_history_occurrence UNIQUE (fingerprint, starts_at, episode, timestamp)
) PARTITION BY RANGE (timestamp);
CREATE INDEX alert_history_timestamp_idx ON alert_history (timestamp DESC, id DESC);
CREATE INDEX alert_history_severity_timestamp_idx ON alert_history (severity, timestamp DESC);
CREATE INDEX alert_history_source_timestamp_idx ON alert_history (source, timestamp DESC);
CREATE INDEX alert_history_alertname_timestamp_idx ON alert_history (alertname, timestamp DESC);
CREATE INDEX alert_history_labels_idx ON alert_history USING GIN (labels jsonb_path_ops);

CREATE TABLE notification (
    id               BIGINT       NOT NULL DEFAULT nextval('notification_id_seq'),
    alert_id         BIGINT       NOT NULL,
    alert_ts         TIMESTAMPTZ  NOT NULL,              -- its alert's timestamp: the partition
    kind             VARCHAR(10)  NOT NULL
                     CONSTRAINT notification_kind_check CHECK (kind IN ('firing', 'resolved', 'reminder')),
    target           VARCHAR(50)  NOT NULL,
    priority         SMALLINT     NOT NULL,
    state            VARCHAR(10)  NOT NULL DEFAULT 'queued'
                     CONSTRAINT notification_state_check CHECK (state IN ('queued', 'sending', 'sent', 'folded', 'digested',
                                      'superseded', 'cancelled', 'failed', 'unsent')),
    attempts         INTEGER      NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    lease_until      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    sent_at          TIMESTAMPTZ,
    message_id       TEXT,
    last_error       TEXT,
    digest_id        BIGINT       REFERENCES digest (id) ON DELETE SET NULL,
    sweeps           INTEGER      NOT NULL DEFAULT 0,
    failed_at        TIMESTAMPTZ,
    fingerprint      VARCHAR(64)  NOT NULL,
    lease_owner      TEXT,
    claim_token      BIGINT,
    give_up_at       TIMESTAMPTZ,
    CONSTRAINT notification_pkey PRIMARY KEY (id, alert_ts)
) PARTITION BY RANGE (alert_ts);
CREATE UNIQUE INDEX notification_once ON notification (alert_id, kind, target, alert_ts)
    WHERE kind <> 'reminder';
CREATE INDEX notification_due_idx ON notification (priority, id)
    WHERE state IN ('queued', 'sending');
CREATE INDEX notification_line_idx ON notification (fingerprint, target, id)
    WHERE state IN ('queued', 'sending', 'folded');
CREATE INDEX notification_alert_idx ON notification (alert_id);
CREATE INDEX notification_folded_idx ON notification (target)
    WHERE state = 'folded' AND digest_id IS NULL;
CREATE INDEX notification_sent_at_idx ON notification (sent_at) WHERE state = 'sent';
CREATE INDEX notification_failed_idx ON notification (failed_at) WHERE state = 'failed';

CREATE TABLE notification_attempt (
    id               BIGINT       NOT NULL DEFAULT nextval('notification_attempt_id_seq'),
    notification_id  BIGINT       NOT NULL,
    alert_ts         TIMESTAMPTZ  NOT NULL,              -- its alert's timestamp: the partition
    attempted_at     TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    outcome          VARCHAR(20)  NOT NULL,
    duration_ms      INTEGER      NOT NULL,
    message_id       TEXT,
    error            TEXT,
    CONSTRAINT notification_attempt_pkey PRIMARY KEY (id, alert_ts)
) PARTITION BY RANGE (alert_ts);
CREATE INDEX notification_attempt_notification_idx ON notification_attempt (notification_id);

CREATE TABLE alert_action (
    id          BIGINT       NOT NULL DEFAULT nextval('alert_action_id_seq'),
    alert_id    BIGINT       NOT NULL,
    alert_ts    TIMESTAMPTZ  NOT NULL,                   -- its alert's timestamp: the partition
    action      VARCHAR(20)  NOT NULL,
    actor       TEXT         NOT NULL,
    at          TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    detail      JSONB        NOT NULL DEFAULT '{}',
    CONSTRAINT alert_action_pkey PRIMARY KEY (id, alert_ts)
) PARTITION BY RANGE (alert_ts);
CREATE INDEX alert_action_alert_idx ON alert_action (alert_id, at);

CREATE TABLE alert_history_default PARTITION OF alert_history DEFAULT;
CREATE TABLE notification_default PARTITION OF notification DEFAULT;
CREATE TABLE notification_attempt_default PARTITION OF notification_attempt DEFAULT;
CREATE TABLE alert_action_default PARTITION OF alert_action DEFAULT;

-- Months of the last 400 days that hold alerts, and this one and the next three.
DO $$
BEGIN
    PERFORM d76_ensure_partitions(
        GREATEST(COALESCE(min(timestamp), now()), now() - interval '400 days')::date,
        (now() + interval '3 months')::date)
       FROM unpartitioned_alert_history;
END
$$;

INSERT INTO alert_history (id, timestamp, severity, source, title, message, metadata,
                           acknowledged, acknowledged_at, acknowledged_by, fingerprint,
                           alertname, status, starts_at, ends_at, labels, annotations,
                           generator_url, receiver, received_at, updated_at, episode)
SELECT id, timestamp, severity, source, title, message, metadata, acknowledged,
       acknowledged_at, acknowledged_by, fingerprint, alertname, status, starts_at, ends_at,
       labels, annotations, generator_url, receiver, received_at, updated_at, episode
  FROM unpartitioned_alert_history;

INSERT INTO notification (id, alert_id, alert_ts, kind, target, priority, state, attempts,
                          next_attempt_at, lease_until, created_at, sent_at, message_id,
                          last_error, digest_id, sweeps, failed_at, fingerprint, lease_owner,
                          claim_token, give_up_at)
SELECT n.id, n.alert_id, a.timestamp, n.kind, n.target, n.priority, n.state, n.attempts,
       n.next_attempt_at, n.lease_until, n.created_at, n.sent_at, n.message_id, n.last_error,
       n.digest_id, n.sweeps, n.failed_at, n.fingerprint, n.lease_owner, n.claim_token,
       n.give_up_at
  FROM unpartitioned_notification n JOIN unpartitioned_alert_history a ON a.id = n.alert_id;

INSERT INTO notification_attempt (id, notification_id, alert_ts, attempted_at, outcome,
                                  duration_ms, message_id, error)
SELECT t.id, t.notification_id, a.timestamp, t.attempted_at, t.outcome, t.duration_ms,
       t.message_id, t.error
  FROM unpartitioned_notification_attempt t
  JOIN unpartitioned_notification n ON n.id = t.notification_id
  JOIN unpartitioned_alert_history a ON a.id = n.alert_id;

INSERT INTO alert_action (id, alert_id, alert_ts, action, actor, at, detail)
SELECT c.id, c.alert_id, a.timestamp, c.action, c.actor, c.at, c.detail
  FROM unpartitioned_alert_action c JOIN unpartitioned_alert_history a ON a.id = c.alert_id;

ALTER SEQUENCE alert_history_id_seq OWNED BY alert_history.id;
ALTER SEQUENCE notification_id_seq OWNED BY notification.id;
ALTER SEQUENCE notification_attempt_id_seq OWNED BY notification_attempt.id;
ALTER SEQUENCE alert_action_id_seq OWNED BY alert_action.id;
DROP TABLE unpartitioned_alert_action, unpartitioned_notification_attempt,
           unpartitioned_notification, unpartitioned_alert_history;

ANALYZE alert_history;
ANALYZE notification;
ANALYZE notification_attempt;
ANALYZE alert_action;
