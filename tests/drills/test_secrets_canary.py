"""Secrets never leave the process. The whole pipeline (real PostgreSQL, Prometheus and
Alertmanager; the Telegram, Slack and SMTP stand-ins) runs with a distinct canary value in
every secret variable, does its work (alerts delivered to every channel, failures and
retries, a button press, the page, the API), and then: no canary in any log line, in any file
under the state directory or in any HTTP response served; the files that must hold one (the
Alertmanager config with the bot token, the webhook token file) are mode 0600, the state and
log directories 0700 and every log file 0600."""

from __future__ import annotations

import json
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stack.stack import Stack, StackConfig
from tests.support import binary
from tests.support.payloads import alert, payload
from tests.support.pipeline import play
from tests.support.ports import free_ports
from tests.support.standins.slack import SlackStandin
from tests.support.standins.smtp import SmtpStandin
from tests.support.standins.telegram import BOT_ID, CHAT, TelegramStandin

pytestmark = pytest.mark.e2e

CANARIES = {
    "TELEGRAM_BOT_TOKEN": f"{BOT_ID}:CANARYtelegramToken0123456789abcdefXYZ",
    "SLACK_WEBHOOK_URL_CRITICAL": "CANARYslackCriticalPath",
    "SLACK_WEBHOOK_URL_ALERTS": "CANARYslackAlertsPath",
    "SMTP_PASSWORD": "CANARYsmtpPassword",
    "RECEIVER_WEBHOOK_TOKEN": "CANARYwebhookToken",
    "HISTORY_API_READ_TOKEN": "CANARYhistoryRead",
    "HISTORY_API_WRITE_TOKEN": "CANARYhistoryWrite",
    "DATABASE_URL": "CANARYdatabasePassword",
}
# What to look for: the secret part of each value (a whole Slack URL is the secret, but its
# path is what makes it so; the database URL's secret is its password).
NEEDLES = {
    name: value.split(":", 1)[1] if name == "TELEGRAM_BOT_TOKEN" else value
    for name, value in CANARIES.items()
}
MAY_HOLD = {"alertmanager.yml": {"TELEGRAM_BOT_TOKEN"}, "webhook-token": {"RECEIVER_WEBHOOK_TOKEN"}}


@pytest.fixture
def standins() -> Iterator[tuple[TelegramStandin, SlackStandin, SmtpStandin]]:
    telegram = TelegramStandin(token=CANARIES["TELEGRAM_BOT_TOKEN"]).start()
    slack = SlackStandin().start()
    smtp = SmtpStandin(auth=True).start()
    yield telegram, slack, smtp
    smtp.stop()
    slack.stop()
    telegram.stop()


class Served:
    """Every HTTP response body and header the test received from the product."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, str]] = []

    def get(
        self, url: str, headers: dict[str, str] | None = None, data: bytes | None = None
    ) -> tuple[int, str, dict[str, str]]:
        request = urllib.request.Request(url, headers=headers or {}, data=data)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=10) as response:
                status, body, head = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, body, head = exc.code, exc.read(), dict(exc.headers)
        text = body.decode(errors="replace")
        self.responses.append((url, text + json.dumps(head)))
        return status, text, head


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def _webhook(stack: Stack, receiver: str, *alerts: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{stack.url('receiver')}/webhook",
        data=json.dumps(payload(*alerts, receiver=receiver)).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {CANARIES['RECEIVER_WEBHOOK_TOKEN']}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def test_no_secret_reaches_a_log_a_file_or_a_response(
    standins: tuple[TelegramStandin, SlackStandin, SmtpStandin],
    database_url: str,
    tmp_path: Path,
) -> None:
    binary("prometheus")
    telegram, slack, smtp = standins
    # Trust authentication ignores the password, so the canary can ride in the URL.
    db_url = database_url.replace(
        "postgresql://d76@", f"postgresql://d76:{CANARIES['DATABASE_URL']}@"
    )
    env = {
        "TELEGRAM_API_URL": telegram.api_url,
        "TELEGRAM_BOT_TOKEN": CANARIES["TELEGRAM_BOT_TOKEN"],
        "TELEGRAM_CHAT_ID": CHAT,
        "SLACK_WEBHOOK_URL_CRITICAL": slack.url(CANARIES["SLACK_WEBHOOK_URL_CRITICAL"]),
        "SLACK_WEBHOOK_URL_ALERTS": slack.url(CANARIES["SLACK_WEBHOOK_URL_ALERTS"]),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_USERNAME": "d76",
        "SMTP_PASSWORD": CANARIES["SMTP_PASSWORD"],
        "SMTP_STARTTLS": "false",  # the stand-in relay is on loopback, without TLS
        "ALERT_EMAIL_TO": "ops@example.test",
        "RECEIVER_WEBHOOK_TOKEN": CANARIES["RECEIVER_WEBHOOK_TOKEN"],
        "HISTORY_API_READ_TOKEN": CANARIES["HISTORY_API_READ_TOKEN"],
        "HISTORY_API_WRITE_TOKEN": CANARIES["HISTORY_API_WRITE_TOKEN"],
    }
    state = tmp_path / "stack"
    stack = Stack(
        StackConfig(
            state_dir=state,
            ports=free_ports(),
            scenario="calm",
            database_url=db_url,
            fast_timers=True,
            env=env,
        ),
        progress=lambda _: None,
    )
    served = Served()
    try:
        stack.start()
        # Failures on the way: error paths log and record what went wrong.
        telegram.fail_next(1, 502, "Bad Gateway", method="sendMessage")
        slack.fail_next(1, 500, "internal_error")
        play(stack, "global_daily_loss")  # P0: Telegram and Slack #critical
        firing = telegram.wait_for(lambda m: "[P0] GlobalGuard BLOCK" in m.text, 45)
        slack.wait_for(CANARIES["SLACK_WEBHOOK_URL_CRITICAL"], 1, 30)
        _webhook(stack, "d76-p1", alert("CanaryP1", severity="P1", fingerprint="c1"))
        slack.wait_for(CANARIES["SLACK_WEBHOOK_URL_ALERTS"], 1, 30)
        _webhook(stack, "d76-p3", alert("CanaryP3", severity="P3", fingerprint="c3"))
        smtp.wait_for(1, 30)
        assert smtp.handler.logins == [("d76", CANARIES["SMTP_PASSWORD"])]
        telegram.press(firing, dict(firing.buttons)["✅ Ack"])
        telegram.press(firing, "ack:²")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(telegram.answers) < 2:
            time.sleep(0.1)

        receiver, exporter = stack.url("receiver"), stack.url("exporter")
        read = {"Authorization": f"Bearer {CANARIES['HISTORY_API_READ_TOKEN']}"}
        status, _, head = served.get(
            f"{receiver}/history?token={CANARIES['HISTORY_API_WRITE_TOKEN']}"
        )
        assert status == 303
        cookie = {"Cookie": head["Set-Cookie"].split(";", 1)[0]}
        assert served.get(f"{receiver}{head['Location']}", cookie)[0] == 200
        status, body, _ = served.get(f"{receiver}/api/v1/alerts?from=-1h", read)
        assert status == 200
        for item in json.loads(body)["items"]:
            served.get(f"{receiver}/api/v1/alerts/{item['id']}", read)
            served.get(f"{receiver}/history/{item['id']}", cookie)
        for route in (
            "/healthz",
            "/readyz",
            "/metrics",
            "/api/v1/openapi.json",
            "/api/v1/stats?from=-1h",
            "/api/v1/alerts",
            "/history",
            "/history?token=wrong",
            "/nope",
        ):
            served.get(f"{receiver}{route}", read if route.startswith("/api/v1/s") else None)
        served.get(f"{receiver}/webhook", data=b"{}")  # 401 without the token
        served.get(f"{exporter}/metrics")
        served.get(f"{stack.url('alertmanager')}/api/v2/status")
        served.get(f"{stack.url('prometheus')}/api/v1/status/config")
    finally:
        stack.stop()

    for url, text in served.responses:
        for name, needle in NEEDLES.items():
            assert needle not in text, f"{name} in the response of {url}"

    leaks: list[str] = []
    holders: dict[str, int] = {}
    for path in sorted(p for p in state.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        held = {name for name, needle in NEEDLES.items() if needle.encode() in data}
        allowed = MAY_HOLD.get(path.name, set())
        leaks += [f"{name} in {path}" for name in held - allowed]
        if held:
            holders[path.name] = stat.S_IMODE(path.stat().st_mode)
        if path.parent == state / "logs":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not leaks, "\n".join(leaks)
    assert holders == {"alertmanager.yml": 0o600, "webhook-token": 0o600}
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "logs").stat().st_mode) == 0o700
    logs = {p.name for p in (state / "logs").iterdir()}
    assert {"receiver.log", "dispatcher.log", "exporter.log", "prometheus.log"} <= logs
    dispatcher_log = (state / "logs" / "dispatcher.log").read_text()
    assert "notification" in dispatcher_log and "sent" in dispatcher_log  # it did log
