"""What the graph snapshot draws of a rule's expression: the compared series and its
threshold, found at PromQL's top level, for every rule this product ships."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from receiver.graphs.expression import Condition, from_generator_url, is_number, metric_name, split

RULES = Path(__file__).resolve().parents[2] / "prometheus" / "rules"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("d75_x > 5", Condition("d75_x", "5", ">")),
        ("0 < d75_x", Condition("d75_x", "0", ">")),
        (
            'd75_route_score\n  < on(job, instance) group_left\nd75_alert_threshold{t="m"}',
            Condition("d75_route_score", 'd75_alert_threshold{t="m"}', "<"),
        ),
        (
            "a / max_over_time(a[1m]) <= on(job) group_left() (1 - th)",
            Condition("a / max_over_time(a[1m])", "(1 - th)", "<="),
        ),
        ("x >= y and y > 0", Condition("x", "y", ">=")),
        (
            "increase(c[10s]) > 0 or (c > 0 unless c offset 1m)",
            Condition("increase(c[10s])", "0", ">"),
        ),
        ('s{status="FROZEN"} == 1', Condition('s{status="FROZEN"}', "1", "==")),
        ('m{a=~"x|y", b!="<>"} != bool 0', Condition('m{a=~"x|y", b!="<>"}', "0", "!=")),
        ('absent(up{job="d75"})', Condition('absent(up{job="d75"})', None, None)),
        (
            'label_replace(up == 1, "a", "b", "", "") unless on(job) t',
            Condition('label_replace(up == 1, "a", "b", "", "")', None, None),
        ),
    ],
)
def test_the_series_and_threshold_are_found_at_the_top_level(
    expression: str, expected: Condition
) -> None:
    assert split(expression) == expected


def test_every_shipped_rule_gives_a_series_to_draw() -> None:
    """A comparison's two sides are each a whole expression (balanced brackets)."""
    compared = 0
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                condition = split(str(rule["expr"]))
                for side in (condition.series, condition.threshold or ""):
                    assert side.count("(") == side.count(")"), (rule["alert"], side)
                    assert side.count("{") == side.count("}"), (rule["alert"], side)
                assert condition.series.strip(), rule["alert"]
                compared += condition.comparison is not None
    assert compared >= 30, "most rules compare a series with a threshold"


def test_the_expression_comes_from_the_generator_url() -> None:
    url = "http://prom:9090/graph?g0.expr=d75_x+%3E+5&g0.tab=1"
    assert from_generator_url(url) == "d75_x > 5"
    assert from_generator_url("http://prom:9090/graph") is None
    assert from_generator_url("") is None


def test_numbers_and_metric_names() -> None:
    assert is_number("50000") and is_number("1e3") and is_number("-0.5")
    assert not is_number("d75_x") and not is_number(None)
    assert metric_name("time() - d75_last_update_timestamp_seconds") == (
        "d75_last_update_timestamp_seconds"
    )
    assert metric_name('rate(d75_errors_total{code=~"5.."}[1m])') == "d75_errors_total"
    assert metric_name("max by (exchange) (d75_x_usd)") == "d75_x_usd"
