-- The escalation policy (docs/D76_ALERTING_INFRASTRUCTURE_DESIGN.md, "Escalation"): one timer
-- per firing alert episode whose severity has a policy. The timers live here, not in a
-- process: they survive restarts, and with several dispatchers each step happens once (a due
-- timer is claimed with FOR UPDATE SKIP LOCKED and its step queues the notifications in the
-- same transaction; every write is guarded by the timer's step counter).
ALTER TABLE notification DROP CONSTRAINT notification_kind_check;
ALTER TABLE notification ADD CONSTRAINT notification_kind_check
    CHECK (kind IN ('firing', 'resolved', 'reminder', 'escalation'));

-- No foreign key to the partitioned alert_history (migration 0011 says why): the webhook
-- starts a timer only for an alert it holds, and prune deletes timers with their alert's
-- month (alert_ts, the alert's timestamp).
CREATE TABLE escalation (
    alert_id           BIGINT       PRIMARY KEY,
    alert_ts           TIMESTAMPTZ  NOT NULL,
    state              VARCHAR(12)  NOT NULL DEFAULT 'waiting'
                       CHECK (state IN ('waiting', 'acknowledged', 'done')),
    -- the policy, as it was when the episode fired (seconds; NULL: that step is off)
    remind_every       DOUBLE PRECISION,
    escalate_after     DOUBLE PRECISION,
    ack_expires_after  DOUBLE PRECISION,
    remind_to          TEXT[]       NOT NULL DEFAULT '{}',
    escalate_to        TEXT[]       NOT NULL DEFAULT '{}',
    mentions           TEXT[]       NOT NULL DEFAULT '{}',
    -- the timers
    remind_at          TIMESTAMPTZ,
    escalate_at        TIMESTAMPTZ,
    resume_at          TIMESTAMPTZ,
    next_at            TIMESTAMPTZ,              -- the earliest of them for the state: the index
    escalated_at       TIMESTAMPTZ,
    reminders          INTEGER      NOT NULL DEFAULT 0,
    ack_expiries       INTEGER      NOT NULL DEFAULT 0,
    step               INTEGER      NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    updated_at         TIMESTAMPTZ  NOT NULL DEFAULT d76_now()
);
CREATE INDEX escalation_due_idx ON escalation (next_at) WHERE state <> 'done';

-- Steps taken, in total (never lowered by prune): /metrics reads three rows.
CREATE TABLE escalation_total (
    step   VARCHAR(20) PRIMARY KEY,                  -- reminder, escalation, ack-expired
    total  BIGINT      NOT NULL DEFAULT 0
);
INSERT INTO escalation_total (step) VALUES ('reminder'), ('escalation'), ('ack-expired');
