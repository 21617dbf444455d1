"""The history page: alerts with the API's filters, severity colours, Ack buttons, a timeline
per alert, and alerts per hour (or day) by severity as a server-drawn SVG chart. Plain HTML
forms, no JavaScript, no external resources.

When a token is configured, open the page once as /history?token=<token>: the page answers
with a signed session cookie holding what the token grants (not the token) and redirects to
the same URL without it. Ack needs the write token (HISTORY_API_WRITE_TOKEN) the same way, and
its forms carry a CSRF token (``receiver.auth``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import (
    Blueprint,
    Response,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import escape
from werkzeug.wrappers import Response as WerkzeugResponse

from receiver import query_params, store
from receiver.errors import BadRequest, Forbidden, NotFound, Unauthorized
from receiver.model import SEVERITIES
from receiver.web.api import actor
from receiver.web.auth import COOKIE, SESSION_MAX_AGE, Session
from receiver.web.state import receiver_state

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


def chart(buckets: list[dict[str, Any]], start: datetime, end: datetime, step: timedelta) -> str:
    """Stacked bars of alerts per bucket and severity, as inline SVG."""
    slots: list[datetime] = []
    moment = start.replace(minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        moment = moment.replace(hour=0)
    while moment < end and len(slots) < 400:
        slots.append(moment)
        moment += step
    counts: dict[tuple[str, str], int] = {(b["bucket"], b["severity"]): b["count"] for b in buckets}
    totals = [sum(counts.get((s.isoformat(), sev), 0) for sev in SEVERITIES) for s in slots]
    peak = max(totals, default=0) or 1
    width, height, bar = 900, 140, max(2.0, 900 / max(len(slots), 1))
    parts = [
        f'<svg id="chart" width="{width}" height="{height + 20}" role="img" '
        f'aria-label="alerts per {"day" if step >= timedelta(days=1) else "hour"}">'
    ]
    for i, slot in enumerate(slots):
        y = float(height)
        for sev, style in SEVERITIES.items():
            n = counts.get((slot.isoformat(), sev), 0)
            if n:
                h = n / peak * (height - 10)
                y -= h
                parts.append(
                    f'<rect x="{i * bar:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" '
                    f'height="{h:.1f}" fill="{style.colour}"><title>{escape(slot.isoformat())}'
                    f" {sev}: {n}</title></rect>"
                )
    first = escape(slots[0].isoformat()) if slots else ""
    parts.append(f'<text x="0" y="{height + 15}" font-size="11">{first} … peak {peak}</text></svg>')
    legend = " ".join(f'<span class="sev {s}">{s}</span>' for s in SEVERITIES)
    return "".join(parts) + f"<div>{legend}</div>"


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
            per_severity = store.bucket_counts(
                conn, filt, "day" if step >= timedelta(days=1) else "hour", "severity"
            )
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
            error=error,
            csrf=receiver_state().sessions.csrf_token(_session()),
        ),
        400 if error else 200,
    )
    return _with_cookie(response)


@bp.get("/history/<int:alert_id>")
def alert(alert_id: int) -> ResponseReturnValue:
    if not _allowed("read"):
        raise Unauthorized("open /history?token=<read token> (HISTORY_API_READ_TOKEN)")
    with receiver_state().read_db.connection() as conn:
        detail = store.alert_detail(conn, alert_id)
    if detail is None:
        raise NotFound(f"alert {alert_id}: no such alert")
    timeline: list[dict[str, Any]] = [
        {"at": detail["starts_at"], "event": "fired", "detail": detail["receiver"]}
    ]
    inside = (detail.get("metadata") or {}).get("maintenance")
    if inside:
        timeline.append(
            {"at": detail["starts_at"], "event": "inside maintenance window", "detail": inside}
        )
    for n in detail["notifications"]:
        for attempt in n["attempt_log"]:
            at = datetime.fromisoformat(str(attempt["at"]))
            what = f"{n['kind']} → {n['target']}: {attempt['outcome']}"
            timeline.append(
                {
                    "at": at if at.tzinfo else at.replace(tzinfo=UTC),
                    "event": what,
                    "detail": attempt["error"] or attempt["message_id"] or "",
                }
            )
    for action in detail["actions"]:
        timeline.append(
            {
                "at": action["at"],
                "event": action["action"],
                "detail": f"{action['actor']} {action['detail'] or ''}",
            }
        )
    if detail["ends_at"]:
        timeline.append({"at": detail["ends_at"], "event": "resolved", "detail": ""})
    timeline.sort(key=lambda e: e["at"])
    csrf = receiver_state().sessions.csrf_token(_session())
    return _with_cookie(
        make_response(render_template("alert.html", a=detail, timeline=timeline, csrf=csrf))
    )


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
