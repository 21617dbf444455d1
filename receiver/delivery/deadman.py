"""The dead man's switch: the receiver notices when the Watchdog stops arriving.

Prometheus fires ``Watchdog`` always; Alertmanager sends it to the receiver every minute
(``repeat_interval``). When it has not arrived for ``deadman.timeout_seconds`` (2 min), or
arrives *resolved* (Prometheus stopped re-sending it, so Alertmanager let it expire), the
dispatcher raises ``D76WatchdogMissing`` (P0) straight into its own outbox — not through
Prometheus or Alertmanager, which may be what is dead — naming what is silent. When the
Watchdog is back, the alert resolves. Several dispatchers may check: the occurrence's start
time is derived from the Watchdog's last arrival, so they raise the same one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import psycopg2.extensions

from receiver import store
from receiver.config import Settings
from receiver.webhook_parser import Alert, Notification

log = logging.getLogger("d76.deadman")
ALERTNAME = "D76WatchdogMissing"
FINGERPRINT = "d76watchdogmissing"


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60}m {seconds % 60:02d}s"


class DeadMansSwitch:
    def __init__(self, settings: Settings, started: datetime | None = None) -> None:
        self._settings = settings
        self._deadman = settings.deadman
        self._started = started or datetime.now(UTC)
        self._http = httpx.Client(timeout=2.0)

    def close(self) -> None:
        self._http.close()

    @property
    def interval(self) -> float:
        return self._deadman.check_seconds

    def _health(self, name: str, url: str) -> tuple[bool, str]:
        try:
            response = self._http.get(f"{url.rstrip('/')}/-/healthy")
        except httpx.HTTPError as exc:
            return False, f"{name}: unreachable ({type(exc).__name__})"
        if response.status_code != 200:
            return False, f"{name}: unhealthy (HTTP {response.status_code})"
        return True, f"{name}: up"

    def silence_start(
        self, conn: psycopg2.extensions.connection, now: datetime
    ) -> tuple[datetime, str] | None:
        """When the pipeline went silent and how we know, or None while all is well."""
        timeout = timedelta(seconds=self._deadman.timeout_seconds)
        state = store.watchdog_state(conn)
        if state is None:
            since = self._started + timeout
            return (since, "the Watchdog has never arrived") if now >= since else None
        last, status = state
        if status == "resolved":
            return last, "the Watchdog arrived resolved: Prometheus stopped sending it"
        if now - last >= timeout:
            return last + timeout, f"the Watchdog has not arrived for {_ago(now - last)}"
        return None

    def check(self, conn: psycopg2.extensions.connection) -> str | None:
        """Raise or resolve D76WatchdogMissing; return what was done (for the log)."""
        now = datetime.now(UTC)
        silent = self.silence_start(conn, now)
        active = store.firing_occurrence(conn, ALERTNAME)
        if silent is not None and active is None:
            since, why = silent
            prometheus_up, prometheus = self._health("Prometheus", self._settings.prometheus_url)
            alertmanager_up, alertmanager = self._health(
                "Alertmanager", self._settings.alertmanager_url
            )
            culprit = (
                "Prometheus"
                if not prometheus_up
                else "Alertmanager"
                if not alertmanager_up
                else "the Prometheus → Alertmanager → receiver path"
            )
            alert = self._alert("firing", since, None, culprit, [why, prometheus, alertmanager])
            store.ingest(conn, self._notification(alert), self._deadman.targets)
            log.error("dead man's switch: %s; pipeline silent: %s", why, culprit)
            return f"raised: {culprit}"
        if silent is None and active is not None:
            starts_at, labels, annotations = active
            alert = Alert(
                status="resolved",
                labels=labels,
                annotations=annotations,
                starts_at=starts_at,
                ends_at=now,
                generator_url="",
                fingerprint=FINGERPRINT,
            )
            store.ingest(conn, self._notification(alert), self._deadman.targets)
            log.info("dead man's switch: the Watchdog is back")
            return "resolved"
        return None

    def _alert(
        self, status: str, since: datetime, ends: datetime | None, culprit: str, lines: list[str]
    ) -> Alert:
        return Alert(
            status=status,
            labels={
                "alertname": ALERTNAME,
                "severity": "P0",
                "source": "Pipeline",
                "silent": culprit,
            },
            annotations={
                "summary": f"Alerting pipeline SILENT: {culprit}",
                "description": "\n".join(lines),
                "action": "Alerts may not reach anyone until this is fixed; "
                "see docs/runbooks/D76WatchdogMissing.md",
                "runbook_url": "docs/runbooks/D76WatchdogMissing.md",
            },
            starts_at=since.replace(microsecond=0),
            ends_at=ends,
            generator_url="",
            fingerprint=FINGERPRINT,
        )

    def _notification(self, alert: Alert) -> Notification:
        return Notification(
            receiver="d76-deadman",
            status=alert.status,
            group_key="deadman",
            group_labels={},
            common_labels=alert.labels,
            common_annotations=alert.annotations,
            external_url="",
            truncated_alerts=0,
            alerts=(alert,),
        )
