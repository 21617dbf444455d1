-- Recent deliveries, for the delivery latency metric read at each scrape.
CREATE INDEX notification_sent_at_idx ON notification (sent_at) WHERE state = 'sent';
