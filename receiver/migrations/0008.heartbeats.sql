-- Signs of life: the Watchdog alert's last arrival (the dead man's switch), and each
-- dispatcher's last loop.
CREATE TABLE heartbeat (
    name       TEXT         PRIMARY KEY,   -- watchdog, dispatcher:<host>:<pid>
    last_seen  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    status     VARCHAR(10)  NOT NULL DEFAULT 'firing'
);
