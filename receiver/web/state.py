"""What the web process holds for its lifetime: settings, database pools, metrics, sessions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import Flask, current_app

from receiver.config import Settings
from receiver.web.auth import PageSessions
from receiver.web.metrics import ReceiverMetrics
from receiver.web.pools import Database

_KEY = "d76"


@dataclass(frozen=True)
class ReceiverState:
    settings: Settings
    db: Database  # the primary, for the API's and page's writes (ack) and /metrics
    webhook_db: Database  # the webhook's own pool: a slow query can never starve ingest
    read_db: Database  # what the API and page read: DATABASE_READ_URL's replica, else ``db``
    metrics: ReceiverMetrics
    sessions: PageSessions


def init_app(app: Flask, state: ReceiverState) -> None:
    app.extensions[_KEY] = state


def receiver_state() -> ReceiverState:
    return cast(ReceiverState, current_app.extensions[_KEY])
