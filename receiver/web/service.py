"""What a load balancer and Prometheus ask of the receiver: liveness, readiness, metrics."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from receiver.web.state import receiver_state

bp = Blueprint("service", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready when the history database answers (a failure is a 503 from the error handler)."""
    with receiver_state().db.connection() as conn, conn, conn.cursor() as cur:
        cur.execute("SELECT 1")
    return jsonify(status="ready"), 200


@bp.get("/metrics")
def metrics() -> Response:
    body = generate_latest(receiver_state().metrics.registry)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
