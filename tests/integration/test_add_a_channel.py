"""docs/ARCHITECTURE.md's recipe "Add a channel", followed step by step with a throwaway
channel: an alert that Alertmanager routes to it goes through the webhook, the store and the
dispatcher, and arrives there, with nothing else changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from receiver import config, model
from receiver.channels import registry
from receiver.channels.base import Outgoing
from receiver.delivery import build
from receiver.model import Claimed, Digest, Link
from receiver.web.app import create_app
from tests.support.payloads import alert, payload


class PagerChannel:
    """Step 3: a channel is a name, send() and close()."""

    name = "pager"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    def send(self, message: Outgoing) -> str | None:
        self.sent.append(message)
        return f"page-{len(self.sent)}"

    def close(self) -> None:
        pass


def pager_message(item: Claimed, links: Sequence[Link]) -> Outgoing:
    """Step 4: how a notification reads on the pager, with its links (history, runbook, …)."""
    text = f"PAGE [{item.severity}] {item.title} ({item.kind})"
    return Outgoing(text=text, body={"links": {link.key: link.url for link in links}})


def pager_digest(digest: Digest, links: Sequence[Link]) -> Outgoing:
    return Outgoing(text=f"PAGE {digest.folded} more", body={"links": [x.url for x in links]})


def test_a_channel_added_by_the_recipe_receives_its_alerts(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    routed = {"database_url": database_url, "routing": {"receivers": {"d76-p0": ["pager"]}}}
    with pytest.raises(Exception, match="unknown target 'pager'"):
        config.Settings.model_validate(routed)  # before step 1 a typo in routing is refused

    # Step 1: the target name.
    monkeypatch.setattr(model, "TARGETS", (*model.TARGETS, "pager"))
    # Step 2: this pager needs no address or secret, so no settings section.
    # Step 5: register the kind.
    pager = PagerChannel()
    kind = registry.ChannelKind(
        "pager", build=lambda settings, target: pager, message=pager_message, digest=pager_digest
    )
    monkeypatch.setitem(registry.KINDS, "pager", kind)
    # Step 6: route to it.
    settings = config.Settings.model_validate(routed)

    client = create_app(settings).test_client()
    answer = client.post("/webhook", json=payload(alert(), receiver="d76-p0"))
    assert answer.status_code == 200, answer.get_json()

    dispatcher = build(settings, deadman=False)
    worker = threading.Thread(target=dispatcher.run, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not pager.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        dispatcher.stop()
        worker.join(timeout=10)
    assert not worker.is_alive(), "the dispatcher stops"

    assert [m.text for m in pager.sent] == ["PAGE [P0] GlobalGuard BLOCK (firing)"], (
        "the pager got the page"
    )
    alerts = client.get("/api/v1/alerts?from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z")
    alerts = alerts.get_json()["items"]
    detail = client.get(f"/api/v1/alerts/{alerts[0]['id']}").get_json()
    assert [(n["target"], n["state"]) for n in detail["notifications"]] == [("pager", "sent")]
    page_links = dict((pager.sent[0].body or {})["links"])
    assert page_links["history"] == f"http://127.0.0.1:9095/history/{alerts[0]['id']}"
    assert "silence" in page_links, "the links come with the message, whatever the channel"
