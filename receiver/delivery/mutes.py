"""The mute chore: a muted alert's resolve, learnt from Alertmanager, and its silence expired.

Alertmanager notifies nothing about a silenced alert, its resolve included. So a dispatcher
asks Alertmanager (one listing per check) which muted occurrences it still holds; one missing
for ``mute.resolve_grace_seconds`` has resolved, and the chore records that resolve through
the webhook's own path (``store.ingest``, as if Alertmanager had sent it: the history row
resolves, the resolved message is queued, the timer ends, the mute becomes ``expiring``).
Then, for every expiring mute (resolved by the webhook or by the poll), it expires the
silence in Alertmanager, retried until it is. Each check is bounded (``mute.batch`` mutes,
one listing, at most ``mute.batch`` expiries).
"""

from __future__ import annotations

import logging

import httpx

from receiver import store
from receiver.config import Settings
from receiver.config_loop import router
from receiver.silences import Alertmanager
from receiver.store import db, mutes
from receiver.webhook_parser import Alert, Notification

log = logging.getLogger("d76.dispatcher")


class MuteWatch:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._am = Alertmanager(settings.alertmanager_url)

    def close(self) -> None:
        self._am.close()

    def check(self, conn: db.Connection) -> None:
        self._resolve_missing(conn)
        self._expire(conn)

    def _resolve_missing(self, conn: db.Connection) -> None:
        muted = mutes.active(conn, self._settings.mute.batch)
        if not muted:
            return
        try:
            held = {(a.get("fingerprint"), a.get("startsAt")) for a in self._am.alerts()}
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("mute: cannot list Alertmanager's alerts (tried again later): %s", exc)
            return
        fingerprints = {fingerprint for fingerprint, _ in held}
        present = [m.id for m in muted if m.fingerprint in fingerprints]
        missing = [m for m in muted if m.fingerprint not in fingerprints]
        mutes.seen(conn, present, [m.id for m in missing])
        grace = self._settings.mute.resolve_grace_seconds
        for m in missing:
            gone_for, ends = mutes.missing_for(conn, m.id)
            if ends is None or gone_for < grace:
                continue
            alert = Alert(
                "resolved", dict(m.labels), dict(m.annotations), m.starts_at, ends,
                m.generator_url, m.fingerprint,
            )  # fmt: skip
            notification = Notification(
                m.receiver, "resolved", "", {}, {}, {}, "", 0, (alert,)
            )  # fmt: skip
            targets = self._settings.routing.targets_for(m.receiver)
            policy = store.IngestPolicy(  # routed as the webhook routes: to the page's chat
                retry_for_seconds=self._settings.dispatcher.retry_for_hours * 3600,
                escalation=self._settings.escalation_rules(),
                route=router(self._settings.routing.table),
            )
            result = store.ingest(conn, notification, targets, policy)
            log.info(
                "mute: alert %s resolved while muted (Alertmanager no longer holds it): "
                "recorded, %s notification(s) queued", m.alert_id, result.queued,
            )  # fmt: skip

    def _expire(self, conn: db.Connection) -> None:
        for mute_id, alert_id, silence_id in mutes.due_expiries(conn, self._settings.mute.batch):
            try:
                self._am.expire(silence_id)
            except httpx.HTTPError as exc:
                state = mutes.expiry_failed(conn, mute_id, f"{type(exc).__name__}: {exc}"[:300])
                level = logging.ERROR if state == "failed" else logging.WARNING
                log.log(level, "mute %s: silence %s not expired (%s): %s",
                        mute_id, silence_id, state, exc)  # fmt: skip
                continue
            if mutes.expired(conn, mute_id, alert_id, silence_id):
                log.info("mute %s: alert %s resolved, silence %s expired",
                         mute_id, alert_id, silence_id)  # fmt: skip
