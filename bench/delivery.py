"""Webhook to Bot API latency: the receiver (gunicorn) and a dispatcher process with real
PostgreSQL deliver to the Telegram stand-in; each sample is the time from posting a one-alert
webhook to the stand-in receiving the message. Alternately (A B A B ...), the same message
text is posted straight to the stand-in's sendMessage, as a script with no history or
retries would: the floor of the HTTP call itself, measured in the same run.

The chat's rate budget (10 messages a minute) is lifted for the run so every message is
measured while under it: this measures the pipeline, not the budget.

    .venv/bin/python -m bench.delivery [--alerts 200] [--rate 5]

Goal: p50 <= 20 ms and p99 <= 100 ms (the seed's budget: 1 s).
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from bench.common import (
    CHAT,
    Bench,
    Figure,
    Row,
    command,
    dispatcher,
    latency_stats,
    lifted_budget_config,
    percentile,
    postgres,
    receiver,
    standalone,
    telegram_env,
    telegram_standin,
)
from tests.support.payloads import alert, payload
from tests.support.standins.telegram import TOKEN

FIGURE = Figure(
    "webhook_telegram",
    "webhook → Telegram (receiver, PostgreSQL, dispatcher)",
    "p50 ≤ 20 ms, p99 ≤ 100 ms (seed: < 1 s)",
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.delivery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="webhooks per second")
    return parser


def run(args: argparse.Namespace) -> list[Row]:
    samples: list[float] = []
    direct: list[float] = []
    with telegram_standin() as telegram, lifted_budget_config() as config_dir:
        env = telegram_env(telegram.api_url, TOKEN, config_dir)
        with (
            postgres() as dsn,
            receiver(dsn, env) as url,
            dispatcher(dsn, env),
            httpx.Client(timeout=10) as client,
        ):
            send = f"{telegram.api_url}/bot{TOKEN}/sendMessage"
            # warm-up: the bot's getMe, connections, caches
            client.post(
                f"{url}/webhook",
                content=json.dumps(payload(alert("Warmup"))),
                headers={"Content-Type": "application/json"},
            )
            telegram.wait_for(lambda m: "Warmup" in m.text, 30)
            client.post(send, data={"chat_id": CHAT, "text": "warm-up", "parse_mode": "HTML"})
            for i in range(args.alerts):
                name = f"Latency{i:05d}"
                body = json.dumps(payload(alert(name, fingerprint=f"{i:016x}")))
                started = cycle = time.monotonic()
                response = client.post(
                    f"{url}/webhook", content=body, headers={"Content-Type": "application/json"}
                )
                response.raise_for_status()
                message = telegram.wait_for(lambda m, n=name: f"<i>{n} " in m.text, 10)
                samples.append((message.received_at - started) * 1000)
                # the same text, straight to sendMessage
                token = f"Direct{i:05d}"
                text = message.text.replace(name, token)
                started = time.monotonic()
                client.post(
                    send, data={"chat_id": CHAT, "text": text, "parse_mode": "HTML"}
                ).raise_for_status()
                arrived = next(m for m in reversed(telegram.sent()) if token in m.text)
                direct.append((arrived.received_at - started) * 1000)
                time.sleep(max(0.0, 1 / args.rate - (time.monotonic() - cycle)))
    print(f"{len(samples)} webhooks at {args.rate:g}/s, each to a Telegram message (P0 route)")
    print(
        f"webhook -> Bot API: p50 {percentile(samples, 50):.1f} ms  "
        f"p99 {percentile(samples, 99):.1f} ms  max {max(samples):.1f} ms"
    )
    print(
        f"the same text posted straight to sendMessage: p50 {percentile(direct, 50):.1f} ms  "
        f"p99 {percentile(direct, 99):.1f} ms"
    )
    return [
        FIGURE.row(
            command("bench.delivery", parser(), args),
            measured=latency_stats(samples),
            comparison_name="the same text posted straight to sendMessage (httpx, nothing stored)",
            comparison=latency_stats(direct),
            met=percentile(samples, 50) <= 20 and percentile(samples, 99) <= 100,
            note=f"{len(samples)} alerts at {args.rate:g}/s, budget lifted",
        )
    ]


BENCH = Bench(
    name="delivery",
    figures=[FIGURE],
    parser=parser,
    run=run,
    smoke=["--alerts", "5", "--rate", "20"],
)

if __name__ == "__main__":
    standalone(BENCH)
