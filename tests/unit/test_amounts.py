"""Dollar amounts are formatted once, by the receiver, for every rule (receiver/amounts.py)."""

from __future__ import annotations

import pytest

from receiver.amounts import format_amounts
from tests.support import REPO


@pytest.mark.parametrize(
    ("raw", "formatted"),
    [
        ("Daily Loss: $55000 / $50000 (limit)", "Daily Loss: $55,000 / $50,000 (limit)"),
        (
            "Portfolio Value: $945000 (start: $1000000)",
            "Portfolio Value: $945,000 (start: $1,000,000)",
        ),
        ("$999 and $1000", "$999 and $1,000"),
        ("$-12000", "$-12,000"),
        ("Daily PnL: -$55000 (realised)", "Daily PnL: -$55,000 (realised)"),  # risk snapshot
        ("Daily PnL: +$1250 (realised)", "Daily PnL: +$1,250 (realised)"),
        ("$1234.56", "$1,234.56"),
        ("route 12345, 2026, 0.65, 85%", "route 12345, 2026, 0.65, 85%"),
        ("$55,000 already", "$55,000 already"),
        ("REST latency: 1250ms", "REST latency: 1,250ms"),
        (
            "420ms, 12345ms, 1.5000ms, 1,250ms, 2000mss",
            "420ms, 12,345ms, 1.5000ms, 1,250ms, 2000mss",
        ),
    ],
)
def test_format_amounts(raw: str, formatted: str) -> None:
    assert format_amounts(raw) == formatted


def test_no_rule_pastes_a_number_format_chain() -> None:
    for path in (REPO / "prometheus" / "rules").glob("*.yml"):
        assert "reReplaceAll" not in path.read_text(), f"{path.name}: format in the receiver"
