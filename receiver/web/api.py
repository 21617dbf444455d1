"""The history API, ``/api/v1``: query, one alert's lifecycle, acknowledge, statistics.

When any token is configured, read endpoints need the read token (or the write token) and
acknowledging needs ``HISTORY_API_WRITE_TOKEN`` (refused if only a read token is set): see
``receiver.auth``. The webhook's token is
separate. Every error has the one JSON shape of ``receiver.errors``.

The request bodies and the responses are pydantic models in ``api_models``, and the query
parameters in ``receiver.query_params``; ``receiver.web.openapi`` generates the document from
them. The checks stay hand-written, with the models' constants, so that each 400 keeps its
message naming the field; ``tests/test_openapi_document.py`` checks that they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from receiver import query_params, store
from receiver.errors import BadRequest, NotFound, Unauthorized
from receiver.web.api_models import BY_MAX, COMMENT_MAX
from receiver.web.auth import bearer
from receiver.web.openapi import document
from receiver.web.state import receiver_state

bp = Blueprint("api", __name__, url_prefix="/api/v1")
QUERY_PARAMS = query_params.param_names(query_params.AlertsQuery) | query_params.param_names(
    query_params.StatsQuery
)


def require(scope: str) -> None:
    """Fail closed: whenever any token is configured, a read needs the read (or write) token
    and a write needs the write token; with no write token configured, writes are refused."""
    tokens = receiver_state().sessions.tokens
    if tokens.allows(tokens.scope_of(bearer(request)), scope):
        return
    if scope == "write":
        if not tokens.write:
            raise Unauthorized(
                "writes are refused: a read token is configured but no write token "
                "(set HISTORY_API_WRITE_TOKEN to acknowledge)"
            )
        raise Unauthorized("this needs the write token (HISTORY_API_WRITE_TOKEN)")
    raise Unauthorized("this needs the read token (HISTORY_API_READ_TOKEN)")


def _params() -> query_params.Params:
    unknown = set(request.args) - QUERY_PARAMS
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]}: unknown parameter")
    return query_params.Params({k: request.args.getlist(k) for k in request.args})


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and request.get_data():
        raise BadRequest("body: not valid JSON")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object")
    return body


def actor(body: Mapping[str, Any]) -> tuple[str, str | None]:
    """Who acknowledges and why, validated the same for the API and the page."""
    who = body.get("by")
    comment = body.get("comment")
    if not isinstance(who, str) or not who.strip() or len(who) > BY_MAX:
        raise BadRequest(f"by: who acknowledges (a name, 1 to {BY_MAX} characters) is required")
    if comment is not None and (not isinstance(comment, str) or len(comment) > COMMENT_MAX):
        raise BadRequest(f"comment: must be text of at most {COMMENT_MAX} characters")
    if "\x00" in who or (comment and "\x00" in comment):
        raise BadRequest("by: must not contain NUL characters")
    return who.strip(), comment


@bp.get("/alerts")
def list_alerts() -> ResponseReturnValue:
    require("read")
    params = _params()
    filt = query_params.parse_filter(params)
    page = query_params.parse_page(params)
    with receiver_state().read_db.connection() as conn:
        items, more = store.list_alerts(conn, filt, page.limit, page.after)
    cursor = query_params.encode_cursor(items[-1]["timestamp"], items[-1]["id"]) if more else None
    return jsonify(items=items, next_cursor=cursor)


@bp.get("/alerts/<int:alert_id>")
def get_alert(alert_id: int) -> ResponseReturnValue:
    require("read")
    with receiver_state().read_db.connection() as conn:
        alert = store.alert_detail(conn, alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id}: no such alert")
    return jsonify(alert)


@bp.post("/alerts/<int:alert_id>/ack")
def ack_alert(alert_id: int) -> ResponseReturnValue:
    require("write")
    who, comment = actor(_body())
    with receiver_state().db.connection() as conn:
        if not store.acknowledge(conn, alert_id, who, comment):
            raise NotFound(f"alert {alert_id}: no such alert")
        alert = store.alert_detail(conn, alert_id)
    return jsonify(alert)


@bp.post("/alerts/ack")
def ack_matching() -> ResponseReturnValue:
    require("write")
    body = _body()
    who, comment = actor(body)
    raw_filter = body.get("filter")
    if not isinstance(raw_filter, dict) or not raw_filter:
        raise BadRequest("filter: an object of query parameters is required (bulk ack)")
    unknown = set(raw_filter) - query_params.FILTER_PARAMS
    if unknown:
        raise BadRequest(f"filter.{sorted(unknown)[0]}: unknown parameter")
    values = {k: [v] if isinstance(v, str) else v for k, v in raw_filter.items()}
    if not all(isinstance(v, list) and all(isinstance(i, str) for i in v) for v in values.values()):
        raise BadRequest("filter: every value must be a string or a list of strings")
    filt = query_params.parse_filter(query_params.Params(values))
    with receiver_state().db.connection() as conn:
        count = store.acknowledge_matching(conn, filt, who, comment)
    return jsonify(acknowledged=count)


@bp.get("/stats")
def stats() -> ResponseReturnValue:
    require("read")
    params = _params()
    bucket = params.one("bucket") or query_params.DEFAULT_BUCKET
    if bucket not in query_params.BUCKETS:
        raise BadRequest(f"bucket: must be {' or '.join(query_params.BUCKETS)}")
    filt = query_params.parse_filter(params)
    query_params.check_range(filt, receiver_state().settings.api.max_range_days)
    with receiver_state().read_db.connection() as conn:
        result = store.stats(conn, filt, bucket)
    result.update(start=filt.start.isoformat(), end=filt.end.isoformat(), bucket=bucket)
    return jsonify(result)


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:

    return jsonify(document(receiver_state().settings.api.max_range_days))
