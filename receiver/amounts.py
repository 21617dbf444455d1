"""Thousands separators for dollar amounts, applied once to every alert the webhook receives.

The rules write dollar amounts as whole numbers after a ``$`` (``Daily Loss: $55000``): a
Prometheus 2.42 rule file cannot share a template, so instead of pasting a formatting chain into
every annotation, the receiver formats them here, in one place, for history and every channel
alike (``Daily Loss: $55,000``). Whole milliseconds get the same separators, as the seed
writes them (``REST latency: 1,250ms``). Only digits right after ``$`` or right before ``ms``
change; other numbers (ids, years, ratios) are left alone.
"""

from __future__ import annotations

import dataclasses
import re

from receiver.webhook_parser import Alert, Notification

# "$" (not "$$") then an optional minus and 4 or more digits; a decimal
# part is kept as it is.
_AMOUNT = re.compile(r"(?<!\$)\$(-?)(\d{4,})(?!\d)")
_MILLISECONDS = re.compile(r"(?<![\d.,])(\d{4,})(?=ms\b)")


def _group(match: re.Match[str]) -> str:
    return f"${match.group(1)}{int(match.group(2)):,}"


def format_amounts(text: str) -> str:
    """``"Loss: $55000 / $50000"`` -> ``"Loss: $55,000 / $50,000"``; ``1250ms`` -> ``1,250ms``."""
    if "$" in text:
        text = _AMOUNT.sub(_group, text)
    if "ms" in text:
        text = _MILLISECONDS.sub(lambda m: f"{int(m.group(1)):,}", text)
    return text


def _alert(alert: Alert) -> Alert:
    annotations = {key: format_amounts(value) for key, value in alert.annotations.items()}
    if annotations == alert.annotations:
        return alert
    return dataclasses.replace(alert, annotations=annotations)


def format_notification(notification: Notification) -> Notification:
    """The notification with the amounts in every alert's annotations (and the common ones)
    formatted; labels are identity and stay as they are."""
    return dataclasses.replace(
        notification,
        alerts=tuple(_alert(alert) for alert in notification.alerts),
        common_annotations={
            key: format_amounts(value) for key, value in notification.common_annotations.items()
        },
    )
