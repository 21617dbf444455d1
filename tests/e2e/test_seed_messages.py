"""The seed's five example messages, each played by its simulator scenario through the real
exporter, Prometheus, Alertmanager, receiver and dispatcher, and read back from the Telegram
stand-in line for line. What follows the seed's lines (scope, alert name, time) is the
product's addition; only run-specific numbers are masked, and each mask is named below."""

from __future__ import annotations

import re

import pytest

from receiver.messages import strip_markup
from stack.stack import Stack
from tests.support.pipeline import play
from tests.support.standins.telegram import TelegramStandin

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"\d[\d,.]*")


@pytest.fixture
def speed() -> float:
    return 10.0  # the health walk's 20 s steps take 2 s


def seed_lines(block: str) -> list[str]:
    return block.strip("\n").splitlines()


def received(telegram: TelegramStandin, title: str) -> list[str]:
    message = telegram.wait_for(lambda m: f"] {title}</b>" in m.text, 40)
    return strip_markup(message.text).splitlines()


def masked(lines: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """The numbers in the lines that start with one of ``prefixes`` replaced by N."""
    return [NUMBER.sub("N", line) if line.lstrip().startswith(prefixes) else line for line in lines]


DOLLARS = re.compile(r"[-+]?\$[\d,]+")


def risk_snapshot(lines: list[str], after: int) -> list[str]:
    """The risk snapshot's lines right after the seed's, its dollar figures (signed or not:
    the engine's state is this run's) replaced by $N."""
    return [DOLLARS.sub("$N", line) for line in lines[after : after + 4]]


def test_rate_limit_warning(pipeline: Stack, telegram: TelegramStandin) -> None:
    play(pipeline, "rate_limit_squeeze")
    seed = seed_lines("""
⚠️ [P2] Rate Limit Warning
Exchange: Binance
Category: Order
Remaining: 15% (180/1200)
Action: Throttling activated
""")
    assert received(telegram, "Rate Limit Warning")[: len(seed)] == seed


def test_exchange_health_down(pipeline: Stack, telegram: TelegramStandin) -> None:
    play(pipeline, "exchange_health")
    seed = seed_lines("""
🔴 [P1] Exchange Health DOWN
Exchange: Upbit
Previous: DEGRADED
Current: DOWN
Metrics:
  - REST latency: 1,250ms
  - Error rate: 12.5%
  - Orderbook age: 8.2s
Action: Failover to Binance
""")
    lines = received(telegram, "Exchange Health DOWN")[: len(seed)]
    # The snapshot is this run's: latency, error rate and age are measured, not the seed's.
    snapshot = ("- REST latency:", "- Error rate:", "- Orderbook age:")
    assert masked(lines, snapshot) == masked(seed, snapshot)
    latency = int(lines[5].split(": ")[1].removesuffix("ms").replace(",", ""))
    assert latency > 500, "Upbit was slow (~1.25 s) while DEGRADED: the p95 says so"
    assert float(lines[6].split(": ")[1].removesuffix("%")) > 0, "Upbit was erroring"


def test_route_score_low(pipeline: Stack, telegram: TelegramStandin) -> None:
    play(pipeline, "route_score_low")
    # The seed writes "Exchange B" for the route's second exchange: Binance here.
    seed = seed_lines(
        """
⚠️ [P2] Route Score Low
Route: Upbit-Binance-BTCKRW
Score: 42 (spread:50, health:30, fee:60, inventory:40)
Reason: Health score low (Exchange B DEGRADED)
Action: Route SKIP
""".replace("Exchange B", "Binance")
    )
    assert received(telegram, "Route Score Low")[: len(seed)] == seed


def test_high_exposure_risk(pipeline: Stack, telegram: TelegramStandin) -> None:
    play(pipeline, "high_exposure")
    seed = seed_lines("""
⚠️ [P1] High Exposure Risk
Symbol: BTC
Total Exposure: $85,000 (85% of capital)
Imbalance Ratio: 0.65 (Upbit heavy)
Action: Rebalance initiated (BUY Binance, SELL Upbit)
""")
    lines = received(telegram, "High Exposure Risk")
    assert lines[: len(seed)] == seed
    # The P1's risk snapshot follows the seed's lines, read from the engine by Prometheus.
    assert risk_snapshot(lines, len(seed)) == [
        "Risk snapshot:",
        "  - Portfolio Value: $N (start: $N)",
        "  - Daily PnL: $N (realised)",
        "  - Total Exposure: $N (all symbols)",
    ]


def test_globalguard_block(pipeline: Stack, telegram: TelegramStandin) -> None:
    play(pipeline, "global_daily_loss")
    seed = seed_lines("""
🔴 [P0] GlobalGuard BLOCK
Reason: Global Daily Loss Limit
Daily Loss: $55,000 / $50,000 (limit)
Portfolio Value: $945,000 (start: $1,000,000)
Action: Trading HALTED until next day
Manual Review Required: YES
""")
    lines = received(telegram, "GlobalGuard BLOCK")
    assert lines[: len(seed)] == seed
    # Its risk snapshot has only the exposure: the loss and portfolio are in the seed's lines.
    assert risk_snapshot(lines, len(seed))[:2] == [
        "Risk snapshot:",
        "  - Total Exposure: $N (all symbols)",
    ]
    assert not lines[len(seed) + 2].startswith("  - ")
