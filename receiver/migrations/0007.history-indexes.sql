-- Indexes for the history API's filters (time range first, then severity, source, alert name,
-- label matchers).
CREATE INDEX alert_history_source_timestamp_idx ON alert_history (source, timestamp DESC);
CREATE INDEX alert_history_alertname_timestamp_idx ON alert_history (alertname, timestamp DESC);
CREATE INDEX alert_history_labels_idx ON alert_history USING GIN (labels jsonb_path_ops);
