"""Alertmanager's API v2, as the receiver uses it: create a silence on an alert's exact labels
(or on one label, for a maintenance window), expire one, and list what Alertmanager holds.

Every call is bounded by the client's timeout; errors are ``httpx.HTTPError`` (or
``ValueError`` for an answer that is not what the API documents) for the caller to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

MAX_ALERTS = 10_000  # a listing longer than this is refused rather than read whole


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Alertmanager:
    def __init__(self, url: str, timeout_seconds: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout_seconds)

    def close(self) -> None:
        self._http.close()

    def silence(
        self, labels: Mapping[str, str], duration: timedelta, actor: str, comment: str
    ) -> tuple[str, datetime]:
        """A silence matching ``labels`` exactly, from now for ``duration``: (id, end)."""
        now = datetime.now(UTC)
        ends = now + duration
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in sorted(labels.items())
            ],
            "startsAt": iso(now),
            "endsAt": iso(ends),
            "createdBy": actor,
            "comment": comment[:500],
        }
        response = self._http.post(f"{self._url}/api/v2/silences", json=body)
        response.raise_for_status()
        silence_id = response.json().get("silenceID")
        if not isinstance(silence_id, str) or not silence_id:
            raise ValueError("Alertmanager answered without a silenceID")
        return silence_id, ends

    def expire(self, silence_id: str) -> None:
        """Expire a silence; one that is already expired or gone counts as expired."""
        response = self._http.delete(f"{self._url}/api/v2/silence/{silence_id}")
        if response.status_code == 404:
            return
        if response.status_code >= 400 and "already expired" in response.text:
            return
        response.raise_for_status()

    def silences(self) -> list[dict[str, Any]]:
        """Every silence Alertmanager knows (active, pending and expired)."""
        response = self._http.get(f"{self._url}/api/v2/silences")
        response.raise_for_status()
        found = response.json()
        if not isinstance(found, list):
            raise ValueError("Alertmanager's silences are not a list")
        return found[:MAX_ALERTS]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds and has not seen resolve, silenced and inhibited
        included (Alertmanager leaves resolved ones out of this listing)."""
        response = self._http.get(
            f"{self._url}/api/v2/alerts",
            params={"active": "true", "silenced": "true", "inhibited": "true"},
        )
        response.raise_for_status()
        found = response.json()
        if not isinstance(found, list) or len(found) > MAX_ALERTS:
            raise ValueError("Alertmanager's alert listing is not a list of bounded size")
        return found
