"""Slack and email delivery through the dispatcher, against stand-ins that speak the real
protocols (HTTP incoming webhooks; SMTP via aiosmtpd)."""

from __future__ import annotations

from receiver import config
from tests.support.app import AppFactory
from tests.support.database import query
from tests.support.delivery import queue_alerts, running, wait_state
from tests.support.payloads import alert
from tests.support.standins.slack import SlackStandin
from tests.support.standins.smtp import SmtpStandin


def _settings(**sections: dict[str, object]) -> config.Settings:
    fast = {"backoff_base_seconds": 0.1, "backoff_max_seconds": 0.4, "idle_wake_seconds": 0.5}
    return config.Settings.model_validate({"dispatcher": fast, **sections})


def test_p0_goes_to_critical_and_p2_to_alerts_with_colours_and_escaping(
    database_url: str, slack: SlackStandin
) -> None:
    settings = _settings(
        slack={
            "webhook_url_critical": slack.url("CRITICAL"),
            "webhook_url_alerts": slack.url("ALERTS"),
        }
    )
    queue_alerts(
        database_url,
        alert(labels={"exchange": "Up<bit> & co"}),
        receiver="d76-p0",
        targets=["slack_critical"],
    )
    queue_alerts(
        database_url,
        alert("ExchangeHealthDegraded", severity="P2", fingerprint="0000000000000002"),
        receiver="d76-p2",
        targets=["slack_alerts"],
    )
    with running(database_url, settings):
        (critical,) = slack.wait_for("CRITICAL", 1, 10)
        (warning,) = slack.wait_for("ALERTS", 1, 10)
        queue_alerts(
            database_url,
            alert(status="resolved", labels={"exchange": "Up<bit> & co"}),
            receiver="d76-p0",
            targets=["slack_critical"],
        )
        resolved = slack.wait_for("CRITICAL", 2, 10)[1]
    assert critical["text"] == "🔴 [P0] GlobalGuard BLOCK"
    attachment = critical["attachments"][0]
    assert attachment["color"] == "#D00000"
    fields = [f["text"] for b in attachment["blocks"] for f in b.get("fields", [])]
    assert "*Exchange:* Up&lt;bit&gt; &amp; co" in fields
    assert warning["attachments"][0]["color"] == "#C49000"  # the one P2 colour, as on the page
    assert resolved["text"].startswith("✅ [P0] RESOLVED: GlobalGuard BLOCK")
    assert resolved["attachments"][0]["color"] == "#2E7D32"


def test_slack_429_waits_retry_after_and_5xx_is_retried(
    database_url: str, slack: SlackStandin, app_factory: AppFactory
) -> None:
    settings = _settings(slack={"webhook_url_critical": slack.url("CRITICAL")})
    slack.fail_next(1, 429, "rate_limited", retry_after=1)
    slack.fail_next(1, 503, "service_unavailable")
    queue_alerts(database_url, alert(), receiver="d76-p0", targets=["slack_critical"])
    with running(database_url, settings):
        slack.wait_for("CRITICAL", 1, 15)
        wait_state(database_url, "sent")
    outcomes = query(database_url, "SELECT outcome FROM notification_attempt ORDER BY id")
    assert outcomes == [("throttled",), ("retry",), ("sent",)]
    # The receiver's /metrics shows what the dispatcher process did.
    text = app_factory().test_client().get("/metrics").get_data(as_text=True)
    assert 'd76_receiver_delivery_retries_total{target="slack_critical"} 2.0' in text
    assert 'd76_receiver_notifications{state="sent",target="slack_critical"} 1.0' in text
    assert 'd76_receiver_delivery_latency_seconds{quantile="0.99",target="slack_critical"}' in text


def test_a_rejected_slack_payload_fails_at_once(database_url: str, slack: SlackStandin) -> None:
    settings = _settings(slack={"webhook_url_critical": slack.url("CRITICAL")})
    slack.fail_next(1, 404, "no_service")
    queue_alerts(database_url, alert(), receiver="d76-p0", targets=["slack_critical"])
    with running(database_url, settings):
        wait_state(database_url, "failed")
    (error,) = query(database_url, "SELECT last_error FROM notification")[0]
    assert "HTTP 404 no_service" in str(error)


def test_p3_is_emailed_with_html_and_a_temporary_smtp_failure_is_retried(
    database_url: str, smtp: SmtpStandin
) -> None:
    settings = _settings(
        email={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "to": ["ops@example.test", "risk@example.test"],
        }
    )
    smtp.handler.reply_next.append("451 4.3.0 try again later")
    queue_alerts(
        database_url,
        alert(
            "ArbRouteScorePlunge",
            severity="P3",
            source="ArbRoute",
            annotations={"summary": "Route Score Plunge", "description": "Route: A<B>\nScore: 56"},
        ),
        receiver="d76-p3",
        targets=["email"],
    )
    with running(database_url, settings):
        (mail,) = smtp.wait_for(1, 15)
        wait_state(database_url, "sent")
    assert mail["Subject"] == "[P3] Route Score Plunge (ArbRouteScorePlunge)"
    assert mail["To"] == "ops@example.test, risk@example.test"
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Route: A&lt;B&gt;<br>Score: 56" in html
    plain = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Route: A<B>" in plain
    assert query(database_url, "SELECT outcome FROM notification_attempt ORDER BY id") == [
        ("retry",),
        ("sent",),
    ]


def test_a_permanent_smtp_refusal_fails(database_url: str, smtp: SmtpStandin) -> None:
    settings = _settings(
        email={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "to": ["ops@example.test"]}
    )
    smtp.handler.reply_next.append("554 5.7.1 message rejected")
    queue_alerts(database_url, alert(severity="P3"), receiver="d76-p3", targets=["email"])
    with running(database_url, settings):
        wait_state(database_url, "failed")
    assert smtp.messages == []


def test_daily_summary_counts_times_and_csv_match_the_day(
    database_url: str, smtp: SmtpStandin
) -> None:
    import csv
    import io
    from datetime import date

    from receiver import store
    from receiver.channels.registry import build_channels
    from receiver.delivery.chores import send_daily_summary

    day = "2026-11-23T"
    alerts = [
        alert("GlobalGuardDailyLossLimit", fingerprint=f"a{i:015d}", starts_at=f"{day}0{i}:00:00Z")
        for i in range(3)
    ]
    alerts += [
        alert(
            "ExchangeHealthDown",
            severity="P1",
            source="ExchangeHealth",
            fingerprint=f"b{i:015d}",
            starts_at=f"{day}1{i}:00:00Z",
        )
        for i in range(2)
    ]
    alerts += [
        alert(
            "RateLimitLow",
            severity="P2",
            source="RateLimiter",
            fingerprint=f"c{i:015d}",
            starts_at=f"{day}1{5 + i}:30:00Z",
        )
        for i in range(5)
    ]
    alerts.append(
        alert("NextDay", fingerprint="d000000000000000", starts_at="2026-11-24T00:00:00Z")
    )  # not part of the 23rd
    queue_alerts(database_url, *alerts, targets=[])
    query(
        database_url,
        """UPDATE alert_history SET acknowledged = TRUE,
                             acknowledged_at = starts_at + interval '2 minutes',
                             status = 'resolved', ends_at = starts_at + interval '10 minutes'
                            WHERE fingerprint = 'a000000000000000'""",
    )
    settings = _settings(
        email={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "to": ["ops@example.test"]}
    )
    conn = store.connect(database_url)
    channels = build_channels(settings)
    assert send_daily_summary(conn, channels, date(2026, 11, 23)) == "sent"
    (mail,) = smtp.wait_for(1, 10)
    assert mail["Subject"] == "[D75] Daily alert summary 2026-11-23: 10 alerts"
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "<tr><td>P0</td><td>3</td></tr>" in html
    assert "<tr><td>P1</td><td>2</td></tr>" in html
    assert "<tr><td>P2</td><td>5</td></tr>" in html
    assert "<tr><td>RiskGuard</td><td>3</td></tr>" in html
    assert "<td>resolved</td><td>2m 00s</td><td>10m 00s</td>" in html
    assert "<tr><td>RateLimitLow</td><td>P2</td><td>5</td></tr>" in html  # the noisiest
    attachment, pdf = list(mail.iter_attachments())
    assert attachment.get_filename() == "d75-alerts-2026-11-23.csv"
    assert pdf.get_filename() == "d75-alerts-2026-11-23.pdf"
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF")  # the charts ride beside the CSV
    rows = list(csv.DictReader(io.StringIO(attachment.get_content())))
    assert len(rows) == 10
    assert {r["alertname"] for r in rows} == {
        "GlobalGuardDailyLossLimit",
        "ExchangeHealthDown",
        "RateLimitLow",
    }
    assert send_daily_summary(conn, channels, date(2026, 11, 23)).startswith("already sent")
    assert len(smtp.messages) == 1
    conn.close()
    for channel in channels.values():
        channel.close()
