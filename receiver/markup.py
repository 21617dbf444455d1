"""Each channel's markup as a template writes it: how a value is escaped, how a text is cut
without splitting an entity or a tag, and the limits a rendered message keeps whatever its
template says.

- Telegram HTML: ``html.escape`` without quotes (Telegram's parser needs no more).
- Slack: mrkdwn's three control characters as entities, then JSON's escapes, since a value sits
  inside a JSON string: it can neither end the string nor become a mention or a link.
- Email HTML: ``html.escape`` (quotes too: values go into attributes).
- Email text: as it is.

Pure functions; ``receiver.templates`` builds a template environment per format from these.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined
from markupsafe import Markup

from receiver.messages import (
    SLACK_SECTION_LIMIT,
    TELEGRAM_LIMIT,
    escape_within,
    slack_escape,
    telegram_escape,
)

SLACK_FIELD_LIMIT = 2000  # characters of one field of a section
SLACK_FIELDS = 10  # fields in one section
SLACK_BLOCKS = 50  # blocks in one message or attachment


def _same(text: str) -> str:
    return text


def _json_string(text: str) -> str:
    """``text`` as the inside of a JSON string literal."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _from_json_string(text: str) -> str:
    return str(json.loads(f'"{text}"'))


def _plain_cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _markup_cut(text: str, limit: int) -> str:
    """Already escaped text cut to ``limit`` without splitting an entity."""
    return escape_within(text, limit, _same)


@dataclass(frozen=True, slots=True)
class Format:
    """One channel's markup. A value is ``escape``d into the markup, which a document holds
    ``encode``d (Slack: inside a JSON string); ``cut`` shortens markup text."""

    name: str
    escape: Callable[[str], str]
    encode: Callable[[str], str] = _same
    decode: Callable[[str], str] = _same
    cut: Callable[[str, int], str] = _markup_cut

    def finalize(self, value: Any) -> Markup:
        """What ``{{ value }}`` writes: escaped for this format unless it is markup already."""
        if isinstance(value, Markup):
            return value
        return Markup(self.encode(self.escape(str(value))))

    def markup_of(self, value: Any) -> str:
        """The markup text of a value (escaped, not yet encoded for the document)."""
        if isinstance(value, Markup):
            return self.decode(str(value))
        return self.escape(str(value))

    def within(self, value: Any, limit: int) -> Markup:
        """Escaped and cut to ``limit`` characters of markup without splitting an entity; a
        cut text ends with "…"."""
        return Markup(self.encode(self.cut(self.markup_of(value), int(limit))))


TELEGRAM = Format("telegram", telegram_escape)
SLACK = Format("slack", slack_escape, encode=_json_string, decode=_from_json_string)
EMAIL_HTML = Format("email_html", html.escape)
EMAIL_TEXT = Format("email_text", _same, cut=_plain_cut)


def nl2br(value: Any) -> Markup:
    """Email HTML: escaped, each newline a ``<br>``."""
    return Markup(EMAIL_HTML.markup_of(value).replace("\n", "<br>"))


def _slack_strings(value: Any) -> Any:
    if isinstance(value, Undefined):  # a label the alert lacks: empty (a misspelt name raises)
        value = str(value)
    if isinstance(value, str):
        return slack_escape(value)
    if isinstance(value, dict):
        return {str(k): _slack_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_slack_strings(v) for v in value]
    return value


def slack_tojson(value: Any) -> Markup:
    """Jinja's ``tojson`` for Slack: every string escaped for mrkdwn, so a value written as a
    whole JSON value cannot become a mention or a link either."""
    return Markup(json.dumps(_slack_strings(value), ensure_ascii=False))


# -- limits after rendering -------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^<>]*>")


def _safe_prefix(text: str, length: int) -> str:
    """``text[:length]``, backed off so that it does not end inside a tag or an entity."""
    cut = text[: max(0, length)]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut


def _open_tags(text: str) -> list[str]:
    stack: list[str] = []
    for match in _TAG.finditer(text):
        name = match.group(2).lower()
        if not match.group(1):
            stack.append(name)
        elif name in stack:
            del stack[len(stack) - 1 - stack[::-1].index(name) :]
    return stack


def cut_html(text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """Telegram HTML cut to ``limit`` characters: never inside a tag or an entity, "…" where
    it was cut, then the tags still open closed."""
    if len(text) <= limit:
        return text
    room = limit - 1
    while True:
        cut = _safe_prefix(text, room)
        closing = "".join(f"</{name}>" for name in reversed(_open_tags(cut)))
        if len(cut) + 1 + len(closing) <= limit:
            return cut + "…" + closing
        room = min(room - 1, limit - 1 - len(closing))


def cut_mrkdwn(text: str, limit: int) -> str:
    """Slack mrkdwn cut to ``limit`` characters, never inside an entity or a ``<…>`` link or
    mention."""
    if len(text) <= limit:
        return text
    return _safe_prefix(text, limit - 1) + "…"


def _limit_text(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = cut_mrkdwn(obj["text"], limit)


def _limit_blocks(blocks: Any) -> Any:
    if not isinstance(blocks, list):
        return blocks
    for block in blocks:
        if not isinstance(block, dict):
            continue
        _limit_text(block.get("text"), SLACK_SECTION_LIMIT)
        if isinstance(block.get("fields"), list):
            block["fields"] = block["fields"][:SLACK_FIELDS]
            for field in block["fields"]:
                _limit_text(field, SLACK_FIELD_LIMIT)
        if block.get("type") == "context" and isinstance(block.get("elements"), list):
            for element in block["elements"]:
                _limit_text(element, SLACK_SECTION_LIMIT)
    return blocks[:SLACK_BLOCKS]


def limit_slack(body: dict[str, Any]) -> dict[str, Any]:
    """A Slack payload within Slack's limits: each section's text, each field, each context
    element, the number of fields and of blocks (in the payload and in each attachment)."""
    if "blocks" in body:
        body["blocks"] = _limit_blocks(body["blocks"])
    for attachment in body.get("attachments") or []:
        if isinstance(attachment, dict) and "blocks" in attachment:
            attachment["blocks"] = _limit_blocks(attachment["blocks"])
    return body


def drop_trailing_commas(text: str) -> str:
    """JSON text with every comma that precedes a ``]`` or ``}`` removed (outside strings): a
    template may end every block with a comma."""
    out: list[str] = []
    in_string = escaped = False
    pending: list[str] = []  # a comma and the whitespace after it, not yet written
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if pending:
            if char.isspace():
                pending.append(char)
                continue
            if char in "]}":
                out.extend(pending[1:])
            else:
                out.extend(pending)
            pending = []
        if char == ",":
            pending = [char]
            continue
        out.append(char)
        if char == '"':
            in_string = True
    out.extend(pending)
    return "".join(out)


# -- what Telegram's HTML parser accepts ------------------------------------------------------

TELEGRAM_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"tg-emoji", "code", "pre", "blockquote"}
)
_TOKEN = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?>|[<>&]")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


def telegram_html_problem(text: str) -> str | None:
    """Why Telegram would refuse ``text`` as HTML (None: it would not): an unknown tag, a tag
    closed out of order or never, or a bare <, > or &."""
    stack: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "&":
            if not _ENTITY.match(text, match.start()):
                return "a bare & (write &amp;)"
        elif token in "<>":
            return f"a bare {token} (write &lt; or &gt;)"
        else:
            name = match.group(2).lower()
            if name not in TELEGRAM_TAGS:
                return f"<{name}> is not a tag Telegram knows"
            if not match.group(1):
                stack.append(name)
            elif not stack or stack[-1] != name:
                return f"</{name}> closes no open <{name}>"
            else:
                stack.pop()
    return f"<{stack[-1]}> is never closed" if stack else None
