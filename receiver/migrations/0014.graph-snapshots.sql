-- Graph snapshots: a PNG of the alert's own expression over the minutes before it fired.
--   alert_graph: one row per alert episode whose severity (or name) asks for a graph. The
--     graph worker claims a pending row under a lease, queries Prometheus, renders, and
--     ends it 'done' (png set) or 'skipped' (note says why: Prometheus slow or down, no
--     expression, no data). A lease that runs out makes the row claimable again, up to the
--     worker's attempt limit; nothing waits on a graph.
--   notification kind 'graph': the photo, a reply to the alert's firing message on Telegram,
--     queued when the graph is done; cancelled if the firing message is not there to reply to.
CREATE TABLE alert_graph (
    alert_id     BIGINT       PRIMARY KEY,            -- no foreign key (partitioned history)
    alert_ts     TIMESTAMPTZ  NOT NULL,               -- its alert's timestamp: pruned with it
    state        VARCHAR(10)  NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'rendering', 'done', 'skipped')),
    attempts     INTEGER      NOT NULL DEFAULT 0,
    lease_until  TIMESTAMPTZ,
    lease_owner  TEXT,
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT d76_now(),
    finished_at  TIMESTAMPTZ,
    expression   TEXT,                                -- the series drawn (from generatorURL)
    threshold    TEXT,                                -- the threshold drawn, if there is one
    note         TEXT,                                -- why it was skipped; what it shows
    png          BYTEA,
    render_ms    INTEGER,                             -- query and render, milliseconds
    CONSTRAINT alert_graph_done_has_png CHECK (state <> 'done' OR png IS NOT NULL)
);
CREATE INDEX alert_graph_open_idx ON alert_graph (created_at) WHERE state IN ('pending', 'rendering');
CREATE INDEX alert_graph_ts_idx ON alert_graph (alert_ts);

ALTER TABLE notification DROP CONSTRAINT notification_kind_check;
ALTER TABLE notification ADD CONSTRAINT notification_kind_check
    CHECK (kind IN ('firing', 'resolved', 'reminder', 'escalation', 'graph'));
