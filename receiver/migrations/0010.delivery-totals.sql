-- The delivery counters of /metrics (sent, unsent, retried attempts by target and outcome),
-- kept in the database rather than in each web process: every worker of a receiver, and
-- both receivers of an HA pair, serve the same totals; a restart does not read the history
-- again; and dropping old history (prune) never lowers them.
--
-- delivery_totals holds the attempts with id <= delivery_totals_mark.settled_id, folded in
-- by whichever scrape holds the mark's row lock; attempts above it are counted live.
CREATE TABLE delivery_totals (
    target   VARCHAR(50)  NOT NULL,
    outcome  VARCHAR(20)  NOT NULL,
    count    BIGINT       NOT NULL,
    PRIMARY KEY (target, outcome)
);

CREATE TABLE delivery_totals_mark (
    singleton   BOOLEAN  PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    settled_id  BIGINT   NOT NULL DEFAULT 0
);
INSERT INTO delivery_totals_mark DEFAULT VALUES;
