"""Every SQL statement the receiver runs, one module per concern.

- ``db``: connections, migrations, LISTEN/NOTIFY, advisory locks
- ``ingest``: the webhook's one transaction (alerts stored, notifications queued);
  ``ingest_plan``: what it will do with a payload, decided before any write
- ``outbox``: claiming notifications and recording their fenced outcomes
- ``escalation``: the escalation timers (reminders, escalation, an ack's expiry)
- ``mutes``: silences made from the receiver, "mute until resolved"
- ``maintenance``: maintenance windows as the history marks them; ``operator``: what the
  chat commands read; ``escalation_views``: the timers for /metrics and the API
- ``budget``: the per-destination rate budget
- ``digests``: storm digests
- ``history``: the history API, page and CLI; ``stats``: their counts and times
- ``reports``: the daily summary
- ``health``: heartbeats and the Watchdog

Callers import the names below from ``receiver.store``.
"""

from receiver.store.budget import release_send, reserve_send
from receiver.store.db import (
    MIGRATIONS_DIR,
    OUTBOX_CHANNEL,
    UNAVAILABLE,
    Connection,
    connect,
    listen,
    migrate,
    notify,
    try_singleton_lock,
)
from receiver.store.health import firing_occurrence, touch_dispatcher, watchdog_state
from receiver.store.history import (
    Action,
    acknowledge,
    acknowledge_matching,
    actions_for,
    alert_detail,
    alert_view,
    fired_again,
    list_alerts,
    prune,
    record_action,
)
from receiver.store.ingest import WATCHDOG, IngestPolicy, IngestResult, ingest
from receiver.store.mutes import is_muted, record_silence, record_unsilence
from receiver.store.reports import (
    DaySummary,
    claim_daily_summary,
    day_summary,
    finish_daily_summary,
)
from receiver.store.stats import bucket_counts, stats

__all__ = [
    "MIGRATIONS_DIR",
    "OUTBOX_CHANNEL",
    "UNAVAILABLE",
    "WATCHDOG",
    "Action",
    "Connection",
    "DaySummary",
    "IngestPolicy",
    "IngestResult",
    "acknowledge",
    "acknowledge_matching",
    "actions_for",
    "alert_detail",
    "alert_view",
    "bucket_counts",
    "claim_daily_summary",
    "connect",
    "day_summary",
    "finish_daily_summary",
    "fired_again",
    "firing_occurrence",
    "ingest",
    "is_muted",
    "list_alerts",
    "listen",
    "migrate",
    "notify",
    "prune",
    "record_action",
    "record_silence",
    "record_unsilence",
    "release_send",
    "reserve_send",
    "stats",
    "touch_dispatcher",
    "try_singleton_lock",
    "watchdog_state",
]
