"""The history page: alerts with the API's filters, severity colours, Ack buttons, and alerts
per hour (or day) by severity as a server-drawn SVG chart with axes and a legend
(``history_chart``). Each alert has its view, /history/<id>: its links (the same as its
messages carry), its graph snapshot (/history/<id>/graph.png) and its lifecycle as one
timeline (``alert_timeline``). Plain HTML forms, no JavaScript, no external resources.

When a token is configured, open the page once as /history?token=<token>: the page answers
with a signed session cookie holding what the token grants (not the token) and redirects to
the same URL without it. Ack needs the write token (HISTORY_API_WRITE_TOKEN) the same way, and
its forms carry a CSRF token (``receiver.auth``).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as WerkzeugResponse

from receiver import links, query_params, store
from receiver.errors import BadRequest, Forbidden, NotFound, Unauthorized
from receiver.model import AlertStatus, Claimed, Kind, Link
from receiver.store import alert_page
from receiver.web import alert_timeline
from receiver.web.api import actor
from receiver.web.auth import COOKIE, SESSION_MAX_AGE, Session
from receiver.web.history_chart import chart, unit
from receiver.web.state import receiver_state

__all__ = ["bp", "chart"]

bp = Blueprint("page", __name__)


def _session() -> Session:
    """This browser's page session (made now if it has none; sent back by _with_cookie)."""
    if "d76_session" not in g:
        sessions = receiver_state().sessions
        session = sessions.load(request.cookies.get(COOKIE))
        if session is None:
            session, g.d76_new_cookie = sessions.new("none")
        g.d76_session = session
    return cast(Session, g.d76_session)


def _allowed(scope: str) -> bool:
    return receiver_state().sessions.tokens.allows(_session().scope, scope)


def _with_cookie(response: Response) -> Response:
    cookie = g.get("d76_new_cookie")
    if cookie:
        _set_cookie(response, cookie)
    return response


def _set_cookie(response: WerkzeugResponse, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="Strict",
        # Behind a TLS proxy the request is plain HTTP; the proxy's word can only make the
        # cookie stricter, so it is trusted here without ProxyFix.
        secure=request.is_secure or request.headers.get("X-Forwarded-Proto") == "https",
    )


def _without_token(path: str, args: list[tuple[str, str]]) -> str:
    kept = [(k, v) for k, v in args if k != "token"]
    return path + ("?" + urlencode(kept) if kept else "")


@bp.before_request
def _take_token_once() -> ResponseReturnValue | None:
    """``?token=`` is exchanged for a session cookie, then the same URL without it."""
    if "token" not in request.args:
        return None
    sessions = receiver_state().sessions
    scope = sessions.tokens.scope_of(request.args.get("token", ""))
    if sessions.tokens.any and scope == "none":
        raise Unauthorized("wrong token: open /history?token=<read or write token>")
    _, cookie = sessions.new(scope if sessions.tokens.any else "write")
    args = [(k, v) for k in request.args for v in request.args.getlist(k)]
    response = redirect(_without_token(request.path, args), 303)
    _set_cookie(response, cookie)
    return response


def _params() -> query_params.Params:
    data: dict[str, list[str]] = {}
    for key in request.args:
        if key in query_params.FILTER_PARAMS | query_params.PAGE_PARAMS:
            values = [v for v in request.args.getlist(key) if v.strip()]
            if values:
                data[key] = values
    data.setdefault("from", ["-24h"])
    return query_params.Params(data)


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("page.history"))


@bp.get("/history", endpoint="history")
def history_page() -> ResponseReturnValue:
    if not _allowed("read"):
        raise Unauthorized("open /history?token=<read token> (HISTORY_API_READ_TOKEN)")
    params = _params()
    error = None
    items: list[dict[str, Any]] = []
    next_cursor = None
    svg = ""
    step = timedelta(hours=1)
    try:
        filt = query_params.parse_filter(params)
        query_params.check_range(filt, receiver_state().settings.api.max_range_days)
        page = query_params.parse_page(params)
    except BadRequest as exc:
        error = exc.message
    else:
        step = (
            timedelta(days=1) if filt.end - filt.start > timedelta(days=3) else timedelta(hours=1)
        )
        with receiver_state().read_db.connection() as conn:
            items, more = store.list_alerts(conn, filt, page.limit, page.after)
            per_severity = store.bucket_counts(conn, filt, unit(step), "severity")
        if more:
            next_cursor = query_params.encode_cursor(items[-1]["timestamp"], items[-1]["id"])
        svg = chart(per_severity, filt.start, filt.end, step)
    args = {k: request.args.get(k, "") for k in request.args}
    older = [
        (k, v)
        for k in request.args
        if k not in ("cursor", "token")
        for v in request.args.getlist(k)
    ]
    older_url = url_for("page.history") + "?" + urlencode([*older, ("cursor", next_cursor or "")])
    response = make_response(
        render_template(
            "history.html",
            items=items,
            next_cursor=next_cursor,
            older_url=older_url,
            args=args,
            severities=query_params.SEVERITIES,
            selected_severities=set(
                params.all("severity") and ",".join(params.all("severity")).split(",")
            ),
            chart=svg,
            chart_unit=unit(step),
            error=error,
            csrf=receiver_state().sessions.csrf_token(_session()),
        ),
        400 if error else 200,
    )
    return _with_cookie(response)


_LINK_BASE = "d76.link_base"


def _link_base() -> links.LinkBase:
    """The external addresses the dispatcher builds its links on (read once per app)."""
    base = current_app.extensions.get(_LINK_BASE)
    if base is None:
        base = current_app.extensions[_LINK_BASE] = links.base_for(receiver_state().settings)
    return cast(links.LinkBase, base)


def _links(detail: dict[str, Any]) -> list[Link]:
    """The links the alert's messages carry now: a firing one's (with New silence) while it
    fires, a resolved one's after."""
    firing = detail["status"] == AlertStatus.FIRING
    item = Claimed(
        id=0,
        kind=Kind.FIRING if firing else Kind.RESOLVED,
        target="",
        priority=0,
        attempts=0,
        reply_to=None,
        alert_id=detail["id"],
        severity=detail["severity"],
        source=detail["source"],
        alertname=detail["alertname"],
        title=detail["title"],
        message=detail["message"],
        status=detail["status"],
        starts_at=detail["starts_at"],
        ends_at=detail["ends_at"],
        labels=dict(detail["labels"] or {}),
        annotations=dict(detail["annotations"] or {}),
        generator_url=detail["generator_url"] or "",
    )
    return links.for_alert(item, _link_base())


@bp.get("/history/<int:alert_id>")
def alert(alert_id: int) -> ResponseReturnValue:
    if not _allowed("read"):
        raise Unauthorized("open /history?token=<read token> (HISTORY_API_READ_TOKEN)")
    with receiver_state().read_db.connection() as conn:
        detail = alert_page.lifecycle(conn, alert_id)
    if detail is None:
        raise NotFound(f"alert {alert_id}: no such alert")
    csrf = receiver_state().sessions.csrf_token(_session())
    page = render_template(
        "alert.html",
        a=detail,
        timeline=alert_timeline.build(detail),
        links=_links(detail),
        graph=detail["graph"],
        when=alert_timeline.when,
        csrf=csrf,
    )
    return _with_cookie(make_response(page))


# A drawn graph does not change; it is a private page's (a session's), never a shared cache's.
GRAPH_CACHE = "private, max-age=3600"


@bp.get("/history/<int:alert_id>/graph.png")
def graph(alert_id: int) -> ResponseReturnValue:
    """The alert's graph snapshot (``alert_graph``, drawn by the graph worker) as a PNG."""
    if not _allowed("read"):
        raise Unauthorized("open /history?token=<read token> (HISTORY_API_READ_TOKEN)")
    with receiver_state().read_db.connection() as conn:
        png = alert_page.graph_png(conn, alert_id)
    if png is None:
        raise NotFound(f"alert {alert_id}: no graph drawn")
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = GRAPH_CACHE
    response.headers["Content-Disposition"] = f'inline; filename="alert-{alert_id}-graph.png"'
    response.set_etag(hashlib.sha256(png).hexdigest()[:32])
    response.make_conditional(request)
    return _with_cookie(response)


@bp.post("/history/<int:alert_id>/ack")
def ack(alert_id: int) -> ResponseReturnValue:
    sessions = receiver_state().sessions
    session = sessions.load(request.cookies.get(COOKIE))
    if not sessions.csrf_ok(session, request.form.get("csrf")):
        raise Forbidden("the form has expired or did not come from this page: reload and retry")
    assert session is not None
    if not sessions.tokens.allows(session.scope, "write"):
        raise Unauthorized("acknowledging needs the write token: open /history?token=<token>")
    who, _ = actor({"by": request.form.get("by")})
    with receiver_state().db.connection() as conn:
        if not store.acknowledge(conn, alert_id, f"web:{who}"):
            raise NotFound(f"alert {alert_id}: no such alert")
    back = urlsplit(request.form.get("back", ""))
    target = url_for("page.history")
    if back.path.startswith("/history") and not back.scheme and not back.netloc:
        target = _without_token(back.path, parse_qsl(back.query, keep_blank_values=True))
    return redirect(target, 303)
