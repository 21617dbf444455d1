"""Slack delivery through incoming webhooks, one URL per channel (#critical, #alerts).

An incoming webhook answers 200 "ok", 429 with Retry-After when rate limited, 4xx for a bad
payload or a revoked URL, and 5xx when Slack is in trouble. It returns no message id, so a
resolved message cannot be threaded under its alert: it is posted as a message of its own.
"""

from __future__ import annotations

import httpx

from receiver.channels.base import NotConfigured, Outgoing, PermanentError, TransientError


class SlackChannel:
    def __init__(self, name: str, webhook_url: str | None, timeout_seconds: float) -> None:
        self.name = name
        self._url = webhook_url
        self._client = httpx.Client(timeout=timeout_seconds)

    def send(self, message: Outgoing) -> str | None:
        if not self._url:
            raise NotConfigured(f"{self.name}: its Slack webhook URL is not set")
        if message.photo is not None:
            raise PermanentError(f"{self.name}: an incoming webhook cannot upload a picture")
        body = dict(message.body) if message.body is not None else {"text": message.text}
        try:
            response = self._client.post(self._url, json=body)
        except httpx.HTTPError as exc:
            # A read timeout comes after the request went out: Slack may have posted it.
            raise TransientError(
                f"{self.name}: {type(exc).__name__}",
                outcome_unknown=isinstance(exc, httpx.ReadTimeout),
            ) from None
        if response.status_code == 200:
            return None
        detail = f"{self.name}: HTTP {response.status_code} {response.text[:200]}"
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "")
            raise TransientError(detail, float(retry_after) if retry_after.isdigit() else None)
        if response.status_code >= 500:
            raise TransientError(detail)
        raise PermanentError(detail)

    def close(self) -> None:
        self._client.close()
