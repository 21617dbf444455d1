"""Where a message's links lead: the alert's entry in the history, its runbook, its graph in
Prometheus and a new silence for it in Alertmanager's UI.

Each is built from one external address per component (``links:`` in config/receiver.yml,
``RECEIVER_EXTERNAL_URL``, ``ALERTMANAGER_EXTERNAL_URL``, ``PROMETHEUS_EXTERNAL_URL``): the
address an operator's browser reaches, which need not be the one the receiver itself uses.
Pure functions, no I/O but ``runbook_names`` (read once at start-up). A link never carries a
token: the history page asks for one itself when it is protected.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from receiver.config import Settings
from receiver.model import Claimed, Digest, Kind, Link

RUNBOOKS_DIR = Path(__file__).resolve().parents[1] / "docs" / "runbooks"
RUNBOOK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
MAX_URL = 2000  # longer (a huge expression in a graph link): the link is left out
# Alertmanager's UI lists the matchers in this order; the rest follow by name.
FIRST_LABELS = ("alertname", "severity")


@dataclass(frozen=True, slots=True)
class LinkBase:
    """The external addresses the links are built on (no trailing slash)."""

    receiver: str  # history and runbooks
    alertmanager: str  # the new-silence form
    prometheus: str | None = None  # graphs rewritten onto it; None: as Prometheus wrote them
    runbooks: frozenset[str] = field(default_factory=frozenset)  # alert names with a runbook


def base_for(settings: Settings, runbooks: frozenset[str] | None = None) -> LinkBase:
    """The settings' external addresses (``Settings.link_urls``) and the runbooks found now."""
    receiver, alertmanager, prometheus = settings.link_urls()
    found = runbook_names() if runbooks is None else runbooks
    return LinkBase(receiver, alertmanager, prometheus, found)


def runbooks_dir() -> Path:
    """The runbooks the receiver serves: D76_RUNBOOKS_DIR or docs/runbooks."""
    return Path(os.environ.get("D76_RUNBOOKS_DIR") or RUNBOOKS_DIR)


def find_runbooks(directory: Path) -> dict[str, Path]:
    """Alert name -> file, for every well-named ``*.md`` in ``directory``."""
    if not directory.is_dir():
        return {}
    return {
        path.stem: path
        for path in sorted(directory.glob("*.md"))
        if RUNBOOK_NAME.fullmatch(path.stem) and path.is_file()
    }


def runbook_names(directory: Path | None = None) -> frozenset[str]:
    return frozenset(find_runbooks(directory or runbooks_dir()))


def absolute_url(url: str) -> str | None:
    """``url`` if it is an absolute http(s) URL without credentials, else None."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None  # a secret has no place in a message
    if any(c.isspace() or ord(c) < 32 for c in url.strip()):
        return None
    return url.strip()


def without_credentials(url: str) -> str:
    """``url`` with any user:password@ removed (an internal address may carry them)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


def history_url(base: LinkBase, alert_id: int) -> str:
    return f"{base.receiver}/history/{int(alert_id)}"


def digest_history_url(base: LinkBase, first: datetime, last: datetime) -> str:
    """The history page over the starts of a digest's alerts (whole seconds, both included)."""
    since = first.astimezone(UTC).replace(microsecond=0)
    until = last.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
    query = urlencode({"from": f"{since:%Y-%m-%dT%H:%M:%SZ}", "to": f"{until:%Y-%m-%dT%H:%M:%SZ}"})
    return f"{base.receiver}/history?{query}"


def for_digest(digest: Digest, base: LinkBase) -> list[Link]:
    """Under a digest: the history page listing the alerts it folded (and their neighbours)."""
    if digest.first_start is None or digest.last_start is None:
        return []
    url = digest_history_url(base, digest.first_start, digest.last_start)
    return [Link("History", url, "history")]


def runbook_url(base: LinkBase, alertname: str, annotations: Mapping[str, str]) -> str | None:
    """The receiver's page for the alert's runbook; without one, the rule's own absolute
    ``runbook_url`` annotation (a runbook kept elsewhere); else None."""
    if alertname in base.runbooks and RUNBOOK_NAME.fullmatch(alertname):
        return f"{base.receiver}/runbooks/{alertname}"
    own = absolute_url(annotations.get("runbook_url", ""))
    return own if own and len(own) <= MAX_URL else None


def graph_url(base: LinkBase, generator_url: str) -> str | None:
    """The alert's expression in Prometheus: its generatorURL, moved onto ``base.prometheus``
    when that is set (the last path segment, ``/graph``, and the query are kept)."""
    url = absolute_url(generator_url)
    if url is None:
        return None
    if base.prometheus:
        parts = urlsplit(url)
        page = parts.path.rstrip("/").rpartition("/")[2] or "graph"
        target = urlsplit(base.prometheus)
        url = urlunsplit(
            (target.scheme, target.netloc, f"{target.path}/{page}", parts.query, parts.fragment)
        )
    return url if len(url) <= MAX_URL else None


def _ordered(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    first = [(name, labels[name]) for name in FIRST_LABELS if name in labels]
    rest = sorted((k, v) for k, v in labels.items() if k not in FIRST_LABELS)
    return first + rest


def silence_filter(labels: Mapping[str, str]) -> str:
    """The alert's exact labels as Alertmanager's matcher syntax: ``{name="value", ...}``,
    each value a JSON string (quotes, backslashes and control characters escaped; any other
    character, non-ASCII included, as it is), which is how Alertmanager's UI reads it."""
    matchers = [
        f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in _ordered(labels)
    ]
    return "{" + ", ".join(matchers) + "}"


def silence_url(base: LinkBase, labels: Mapping[str, str]) -> str:
    """Alertmanager UI's new-silence form, prefilled with the alert's labels. The filter is
    percent-encoded whole (UTF-8), so the URL is plain ASCII."""
    return f"{base.alertmanager}/#/silences/new?filter={quote(silence_filter(labels), safe='')}"


SILENCEABLE = (Kind.FIRING, Kind.REMINDER, Kind.ESCALATION)


def for_alert(item: Claimed, base: LinkBase, kinds: Collection[str] = SILENCEABLE) -> list[Link]:
    """The links under one alert's message, in the order shown. A firing, reminder or
    escalation offers a new silence (``kinds``); a resolved alert has nothing to silence.
    A runbook or graph the alert has none of is left out."""
    found = [Link("History", history_url(base, item.alert_id), "history")]
    runbook = runbook_url(base, item.alertname, item.annotations)
    if runbook:
        found.append(Link("Runbook", runbook, "runbook"))
    graph = graph_url(base, item.generator_url)
    if graph:
        found.append(Link("Graph", graph, "graph"))
    if item.kind in kinds and item.labels:
        silence = silence_url(base, item.labels)
        if len(silence) <= MAX_URL:
            found.append(Link("New silence", silence, "silence"))
    return found
