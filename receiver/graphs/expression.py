"""What a rule's expression compares: the series to draw and its threshold.

A D75 rule reads ``<series> <comparison> [bool] [on(...)|ignoring(...)] [group_left(...)]
<threshold>``, perhaps followed by ``and``/``unless`` conditions or ``or`` alternatives. The
split follows PromQL's precedence (``or`` lowest, then ``and``/``unless``, then the
comparisons), at the top level only: nothing inside brackets, braces or strings counts.
Pure functions: no Prometheus needed (Prometheus 2.42 has no parse API).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_KEYWORD = re.compile(r"\b(or|and|unless)\b", re.IGNORECASE)
_MODIFIER = re.compile(
    r"^\s*(?:bool\b)?\s*(?:(?:on|ignoring)\s*\([^)]*\))?\s*"
    r"(?:(?:group_left|group_right)\b\s*(?:\([^)]*\))?)?\s*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_FUNCTIONS_AND_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "time", "vector", "scalar", "inf", "nan",
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group",
}  # fmt: skip
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Condition:
    """The parts of a rule's expression the graph draws."""

    series: str  # the compared series (the whole expression when it compares nothing)
    threshold: str | None  # the other side: a number or an expression; None when none
    comparison: str | None  # ">", "<=", ...; None when the expression compares nothing


def from_generator_url(url: str) -> str | None:
    """The expression of a Prometheus ``generatorURL`` (``…/graph?g0.expr=…``), or None."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return None
    found = parse_qs(query).get("g0.expr")
    expression = found[0].strip() if found else ""
    return expression or None


def _top_level(expression: str) -> list[tuple[int, str]]:
    """Positions and characters at nesting depth 0, outside strings."""
    out: list[tuple[int, str]] = []
    depth = 0
    quote: str | None = None
    escaped = False
    for at, char in enumerate(expression):
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
            continue
        if char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            out.append((at, char))
    return out


def _mask(expression: str) -> str:
    """The expression with everything nested or quoted blanked out (same length)."""
    shown = dict(_top_level(expression))
    return "".join(shown.get(at, " ") for at in range(len(expression)))


def _first_operand(expression: str, words: tuple[str, ...]) -> str:
    """The expression up to its first top-level binary ``words`` keyword."""
    masked = _mask(expression)
    for match in _KEYWORD.finditer(masked):
        if match.group(1).lower() in words:
            return expression[: match.start()].strip()
    return expression.strip()


def _comparison(masked: str) -> tuple[int, str] | None:
    """The position and operator of the last top-level comparison (they associate left)."""
    found: tuple[int, str] | None = None
    at = 0
    while at < len(masked):
        two = masked[at : at + 2]
        if two in ("==", "!=", ">=", "<="):
            found = (at, two)
            at += 2
            continue
        if masked[at] in "<>":
            found = (at, masked[at])
        at += 1
    return found


def split(expression: str) -> Condition:
    """The series and threshold of ``expression`` (see the module's docstring)."""
    condition = _first_operand(_first_operand(expression, ("or",)), ("and", "unless"))
    found = _comparison(_mask(condition))
    if found is None:
        return Condition(series=condition, threshold=None, comparison=None)
    at, operator = found
    left = condition[:at].strip()
    right = condition[at + len(operator) :]
    right = right[_MODIFIER.match(right).end() :].strip()  # type: ignore[union-attr]
    if not left or not right:
        return Condition(series=condition, threshold=None, comparison=None)
    if _NUMBER.match(left) and not _NUMBER.match(right):  # "0 < x": draw x against 0
        mirrored = {">": "<", "<": ">", ">=": "<=", "<=": ">="}.get(operator, operator)
        return Condition(series=right, threshold=left, comparison=mirrored)
    return Condition(series=left, threshold=right, comparison=operator)


def is_number(text: str | None) -> bool:
    return text is not None and bool(_NUMBER.match(text.strip()))


def metric_name(expression: str) -> str | None:
    """The first metric name the expression reads (for the axis's unit), or None."""
    masked_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression)
    masked_strings = re.sub(r"\[[^\]]*\]", "", masked_strings)
    masked_strings = re.sub(r"\{[^}]*\}", "", masked_strings)
    masked_strings = _GROUPING.sub(" ", masked_strings)
    for match in _METRIC.finditer(masked_strings):
        name = match.group(0)
        after = masked_strings[match.end() :].lstrip()
        if name.lower() in _FUNCTIONS_AND_WORDS or after.startswith("("):
            continue
        if _NUMBER.match(name):
            continue
        return name
    return None
