"""The receiver's Flask application factory."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from receiver import config
from receiver.errors import ApiError
from receiver.model import RESOLVED_COLOUR, SEVERITIES
from receiver.web import api, history_page, runbooks, service, webhook
from receiver.web.auth import PageSessions
from receiver.web.metrics import DeliveryStateCollector, ReceiverMetrics
from receiver.web.pools import Database
from receiver.web.state import ReceiverState, init_app

log = logging.getLogger("d76.receiver")
# On every response. The page uses no script and no external resource: inline styles, inline
# SVG, forms posting to itself. Nothing may frame it; no URL leaks through Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(settings: config.Settings | None = None, *, db_connections: int = 8) -> Flask:
    """Build the app; settings are read once here (from files and environment) if not given.

    ``db_connections`` should match the server's threads per process.
    """
    settings = settings or config.load()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.webhook.max_body_bytes
    # The API and page may hold at most all threads but two, so at least two threads are
    # always left for the webhook, which has its own pool and a shorter statement timeout.
    db = Database(
        settings.dsn,
        max_connections=max(1, db_connections - 2),
        statement_timeout_seconds=settings.api.statement_timeout_seconds,
        application_name="d76-receiver-api",
    )
    webhook_db = Database(
        settings.dsn,
        max_connections=db_connections,
        statement_timeout_seconds=settings.webhook.statement_timeout_seconds,
        application_name="d76-receiver-webhook",
        # Alertmanager retries a 5xx: the alert is stored when the database is responsive again.
        timeout_hint="the database is overloaded or locked; Alertmanager will retry",
    )
    # Reads of the history may go to a streaming replica: its own pool, the API's timeout.
    read_db = db
    if settings.read_dsn != settings.dsn:
        read_db = Database(
            settings.read_dsn,
            max_connections=max(1, db_connections - 2),
            statement_timeout_seconds=settings.api.statement_timeout_seconds,
            application_name="d76-receiver-read",
        )
    metrics = ReceiverMetrics()
    # Registered once, in the registry /metrics serves: one database read per scrape, by
    # whichever worker answers it.
    metrics.registry.register(DeliveryStateCollector(db.connection))
    init_app(
        app,
        ReceiverState(
            settings=settings,
            db=db,
            webhook_db=webhook_db,
            read_db=read_db,
            metrics=metrics,
            sessions=PageSessions(settings),
        ),
    )

    app.json = _JSON(app)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(history_page.bp)
    runbooks.init_app(app)
    _register_errors(app)
    app.register_blueprint(service.bp)
    app.context_processor(_vocabulary)

    @app.after_request
    def _count_webhook(response: Response) -> Response:
        if request.endpoint == "webhook.receive":
            metrics.webhook_requests.labels(str(response.status_code)).inc()
        return response

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    return app


def _vocabulary() -> dict[str, Any]:
    """What every template may use: the one table of severity colours."""
    return {"severity_styles": list(SEVERITIES.values()), "resolved_colour": RESOLVED_COLOUR}


class _JSON(DefaultJSONProvider):
    """Times as ISO 8601 (Flask's default is the HTTP date format)."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int]:
        if exc.status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return jsonify(exc.to_json()), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        code = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        response = jsonify({"error": {"code": name, "message": exc.description or name}})
        for header, value in exc.get_headers():  # e.g. Allow on a 405
            if header.lower() != "content-type":
                response.headers[header] = value
        return response, code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error")
        body = {"error": {"code": "internal_error", "message": "internal error; see receiver log"}}
        return jsonify(body), 500
