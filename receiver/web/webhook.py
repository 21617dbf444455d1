"""POST /webhook: Alertmanager's webhook (version 4).

Validate, store every alert and queue its notifications in one transaction, answer. Nothing
here talks to a channel: the dispatcher delivers after the commit.
"""

from __future__ import annotations

import json
from collections import Counter

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

import d76maintenance
from receiver import amounts, store, webhook_parser
from receiver.config import Settings
from receiver.config_loop import router
from receiver.errors import InvalidPayload, Unauthorized
from receiver.store.graphs import Wanted
from receiver.web.auth import bearer, same_secret
from receiver.web.state import receiver_state

bp = Blueprint("webhook", __name__)


def _check_token() -> None:
    expected = receiver_state().settings.webhook.token
    if expected is None or not expected.get_secret_value():
        return
    if not same_secret(bearer(request), expected.get_secret_value()):
        raise Unauthorized("webhook: missing or wrong bearer token (RECEIVER_WEBHOOK_TOKEN)")


def ingest_policy(settings: Settings) -> store.IngestPolicy:
    """What ingest needs of the delivery settings: when to give up, how to escalate."""
    return store.IngestPolicy(
        retry_for_seconds=settings.dispatcher.retry_for_hours * 3600,
        escalation=settings.escalation_rules(),
        maintenance=_MAINTENANCE.current(),
        route=router(settings.routing.table),
        graphs=graph_choice(settings),
    )


def graph_choice(settings: Settings) -> Wanted:
    """Which paged alerts get a graph snapshot (none when graphs are off)."""
    g = settings.graphs
    if not g.enabled:
        return Wanted()
    return Wanted(tuple(g.severities), tuple(g.also), tuple(g.never))


_MAINTENANCE = d76maintenance.Watched()  # config/maintenance.yml, read again when it changes


@bp.post("/webhook")
def receive() -> ResponseReturnValue:
    state = receiver_state()
    _check_token()
    body = request.get_data(cache=False)  # bounded by MAX_CONTENT_LENGTH (413 beyond)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"body: not valid JSON ({exc})") from None
    notification = amounts.format_notification(webhook_parser.parse(document))
    targets = state.settings.routing.targets_for(notification.receiver)
    with state.webhook_db.connection() as conn:
        result = store.ingest(conn, notification, targets, ingest_policy(state.settings))
    # One increment per status, not per alert: under several workers each one is a write to
    # this worker's metrics file.
    for status, count in Counter(alert.status for alert in notification.alerts).items():
        state.metrics.alerts_received.labels(status).inc(count)
    state.metrics.notifications_queued.inc(result.queued)
    current_app.logger.debug("webhook %s: %s", notification.receiver, result)
    return jsonify(
        status="stored",
        alerts=result.alerts,
        new=result.new,
        resolved=result.resolved,
        queued=result.queued,
        refired=result.refired,
        reminders=result.reminders,
        escalations=result.escalations,
    )
