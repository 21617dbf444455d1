"""The history page: alerts with the API's filters, severity colours, Ack buttons, a timeline
per alert, and alerts per hour (or day) by severity as a server-drawn SVG chart. Plain HTML
forms, no JavaScript, no external resources.

When HISTORY_API_READ_TOKEN is set, open the page once as /history?token=<token>: the token
is kept in a cookie. Ack needs the write token (HISTORY_API_WRITE_TOKEN) the same way.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import escape

from receiver import history, store
from receiver.errors import BadRequest, NotFound, Unauthorized
from receiver.extensions import receiver_state

bp = Blueprint("page", __name__)
COOKIE = "d76_token"
COLOURS = {"P0": "#D00000", "P1": "#F57C00", "P2": "#C49000", "P3": "#1E88E5", "none": "#9E9E9E"}


def _token() -> str:
    return request.args.get("token") or request.cookies.get(COOKIE, "")


def _allowed(scope: str) -> bool:
    api = receiver_state().settings.api
    read = api.read_token.get_secret_value() if api.read_token else ""
    write = api.write_token.get_secret_value() if api.write_token else ""
    given = _token().encode()
    if scope == "write":
        return not write or hmac.compare_digest(given, write.encode())
    return not read or any(t and hmac.compare_digest(given, t.encode()) for t in (read, write))


def _with_cookie(response: Response) -> Response:
    if request.args.get("token"):
        response.set_cookie(COOKIE, request.args["token"], httponly=True, samesite="Strict")
    return response


def _params() -> history.Params:
    data: dict[str, list[str]] = {}
    for key in request.args:
        if key in history.FILTER_PARAMS | {"cursor", "limit"}:
            values = [v for v in request.args.getlist(key) if v.strip()]
            if values:
                data[key] = values
    data.setdefault("from", ["-24h"])
    return history.Params(data)


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
    totals = [sum(counts.get((s.isoformat(), sev), 0) for sev in COLOURS) for s in slots]
    peak = max(totals, default=0) or 1
    width, height, bar = 900, 140, max(2.0, 900 / max(len(slots), 1))
    parts = [
        f'<svg id="chart" width="{width}" height="{height + 20}" role="img" '
        f'aria-label="alerts per {"day" if step >= timedelta(days=1) else "hour"}">'
    ]
    for i, slot in enumerate(slots):
        y = float(height)
        for sev, colour in COLOURS.items():
            n = counts.get((slot.isoformat(), sev), 0)
            if n:
                h = n / peak * (height - 10)
                y -= h
                parts.append(
                    f'<rect x="{i * bar:.1f}" y="{y:.1f}" width="{bar - 1:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{escape(slot.isoformat())}'
                    f" {sev}: {n}</title></rect>"
                )
    first = escape(slots[0].isoformat()) if slots else ""
    parts.append(f'<text x="0" y="{height + 15}" font-size="11">{first} … peak {peak}</text></svg>')
    legend = " ".join(f'<span class="sev {s}">{s}</span>' for s in COLOURS)
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
        filt = history.parse_filter(params)
        page = history.parse_page(params)
    except BadRequest as exc:
        error = exc.message
    else:
        step = (
            timedelta(days=1) if filt.end - filt.start > timedelta(days=3) else timedelta(hours=1)
        )
        with receiver_state().db.connection() as conn:
            items, more = store.list_alerts(conn, filt, page.limit, page.after)
            per_severity = store.bucket_counts(
                conn, filt, "day" if step >= timedelta(days=1) else "hour", "severity"
            )
        if more:
            next_cursor = history.encode_cursor(items[-1]["timestamp"], items[-1]["id"])
        svg = chart(per_severity, filt.start, filt.end, step)
    args = {k: request.args.get(k, "") for k in request.args}
    older = [(k, v) for k in request.args if k != "cursor" for v in request.args.getlist(k)]
    older_url = url_for("page.history") + "?" + urlencode([*older, ("cursor", next_cursor or "")])
    response = make_response(
        render_template(
            "history.html",
            items=items,
            next_cursor=next_cursor,
            older_url=older_url,
            args=args,
            severities=history.SEVERITIES,
            selected_severities=set(
                params.all("severity") and ",".join(params.all("severity")).split(",")
            ),
            chart=svg,
            error=error,
        ),
        400 if error else 200,
    )
    return _with_cookie(response)


@bp.get("/history/<int:alert_id>")
def alert(alert_id: int) -> ResponseReturnValue:
    if not _allowed("read"):
        raise Unauthorized("open /history?token=<read token> (HISTORY_API_READ_TOKEN)")
    with receiver_state().db.connection() as conn:
        detail = store.alert_detail(conn, alert_id)
    if detail is None:
        raise NotFound(f"alert {alert_id}: no such alert")
    timeline: list[dict[str, Any]] = [
        {"at": detail["starts_at"], "event": "fired", "detail": detail["receiver"]}
    ]
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
    return _with_cookie(make_response(render_template("alert.html", a=detail, timeline=timeline)))


@bp.post("/history/<int:alert_id>/ack")
def ack(alert_id: int) -> ResponseReturnValue:
    if not _allowed("write"):
        raise Unauthorized("acknowledging needs the write token: open /history?token=<token>")
    who = (request.form.get("by") or "").strip()
    if not who or len(who) > 200:
        raise BadRequest("by: your name is required to acknowledge")
    with receiver_state().db.connection() as conn:
        if not store.acknowledge(conn, alert_id, f"web:{who}"):
            raise NotFound(f"alert {alert_id}: no such alert")
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/history") else url_for("page.history"), 303)
