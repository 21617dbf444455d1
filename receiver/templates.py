"""Message templates: the defaults in ``receiver/default_templates/`` and an operator's
overrides, read once, checked, looked up per alert and rendered per channel.

The override directory (``templates.directory`` in config/receiver.yml, default
config/templates/) holds, per channel:

    telegram/<AlertName>.html.j2    telegram/source-<Source>.html.j2
    slack/<AlertName>.json.j2       slack/source-<Source>.json.j2
    email/<AlertName>.html.j2       email/source-<Source>.html.j2
    email/<AlertName>.txt.j2        email/source-<Source>.txt.j2
    <channel>/_<name>.<ext>.j2      a partial, for {% include %} and {% import %}

An alert's message uses its alert name's file, else its source's, else the default
(``default/telegram.html.j2``, ``default/slack.json.j2``, ``default/email.html.j2``,
``default/email.txt.j2``, which an override may ``{% extends %}``). Every file is read once,
when the templates are loaded, and checked then: compiled, and rendered for sample alerts of
every kind. A file that fails is refused as ``templates: <file>:<line>: <message>``. An
operator's template that still fails on a real alert is logged, and that one message is laid
out by the default. How each channel escapes values: ``receiver.markup``.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing
from markupsafe import Markup

from d76config import ConfigError
from receiver import markup, messages
from receiver.model import Claimed, Kind, Link

log = logging.getLogger("d76.templates")
DEFAULTS_DIR = Path(__file__).resolve().parent / "default_templates"
SOURCE_PREFIX = "source-"
PARTIAL_PREFIX = "_"
ALERT_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


@dataclass(frozen=True, slots=True)
class Layout:
    """One channel's message template: where its files are and how it writes values."""

    name: str  # telegram, slack, email_html, email_text
    folder: str  # its folder in the override directory
    suffix: str  # its files' ending
    format: markup.Format

    @property
    def default(self) -> str:
        return f"default/{self.folder}{self.suffix}"


TELEGRAM = Layout("telegram", "telegram", ".html.j2", markup.TELEGRAM)
SLACK = Layout("slack", "slack", ".json.j2", markup.SLACK)
EMAIL_HTML = Layout("email_html", "email", ".html.j2", markup.EMAIL_HTML)
EMAIL_TEXT = Layout("email_text", "email", ".txt.j2", markup.EMAIL_TEXT)
LAYOUTS = (TELEGRAM, SLACK, EMAIL_HTML, EMAIL_TEXT)
BY_NAME = {layout.name: layout for layout in LAYOUTS}
KINDS = (Kind.FIRING, Kind.RESOLVED, Kind.REMINDER, Kind.ESCALATION)  # what templates lay out


class TemplateError(ConfigError):
    """A template that cannot be used: ``templates: <file>:<line>: <message>``."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"templates: {file}{f':{line}' if line else ''}: {message}")


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # as templates name it: "telegram/X.html.j2", "default/telegram.html.j2"
    path: str  # the file, as errors name it
    text: str


class _Loader(BaseLoader):
    """The sources read at load time: nothing is read from disk again."""

    def __init__(self, sources: Mapping[str, Source]) -> None:
        self._sources = sources

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source = self._sources.get(template)
        if source is None:
            raise TemplateNotFound(template)
        return source.text, source.path, lambda: True

    def list_templates(self) -> list[str]:
        return sorted(self._sources)


class _Lenient(Undefined):
    __slots__ = ()


class _Strict(StrictUndefined):
    __slots__ = ()


class _Undefined(Undefined):
    """A missing key of a mapping (a label or an annotation the alert does not have) is empty;
    anything else undefined (a misspelt variable, or field of ``alert``) is an error, which
    the start-up check finds."""

    __slots__ = ()

    def __new__(
        cls,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[Exception] = UndefinedError,
    ) -> Any:
        undefined = object.__new__(_Lenient if isinstance(obj, Mapping) else _Strict)
        undefined.__init__(hint, obj, name, exc)  # type: ignore[misc]
        return undefined


# -- what a template sees -----------------------------------------------------------------------


def _context(item: Claimed, links: Sequence[Link], notes: Sequence[str]) -> dict[str, Any]:
    """The variables of every layout (docs/OPERATOR_GUIDE.md lists them)."""
    title = f"{messages.emoji(item)} [{item.severity}] {messages.headline_prefix(item)}{item.title}"
    return {
        "alert": item,
        "kind": str(item.kind),
        "headline": title,
        "description": messages.body(item),
        "action": item.annotations.get("action", ""),
        "risk": messages.risk_snapshot(item),
        "scope": [
            (label.title(), value)
            for label in messages.SCOPE_LABELS
            if (value := item.labels.get(label))
        ],
        "footer": f"{item.alertname} · {item.source} · since {messages.when(item.starts_at)}",
        "colour": messages.colour(item),
        "subject": messages.email_subject(item),
        "links": list(links),
        "notes": [Markup(note) for note in notes],
    }


@dataclass
class _Fit:
    """The values a Telegram template wrote with ``fit``: each gets the room the rest leaves."""

    token: str = field(default_factory=lambda: secrets.token_hex(8))
    pieces: list[str] = field(default_factory=list)

    def mark(self, index: int) -> str:
        return f"\x00{self.token}:{index}\x00"

    def fill(self, text: str) -> str:
        marks = [self.mark(i) for i in range(len(self.pieces))]
        shown = sum(text.count(mark) for mark in marks)
        if not shown:
            return text
        rest = len(text) - sum(text.count(mark) * len(mark) for mark in marks)
        room = (messages.TELEGRAM_LIMIT - rest - 1) // shown
        for mark, piece in zip(marks, self.pieces, strict=True):
            text = text.replace(mark, markup.TELEGRAM.cut(piece, room))
        return text


@pass_context
def _telegram_fit(context: Context, value: Any) -> Markup:
    fit = context.get("_fit")
    if not isinstance(fit, _Fit):  # a macro imported without context
        return markup.TELEGRAM.within(value, messages.TELEGRAM_LIMIT)
    fit.pieces.append(markup.TELEGRAM.markup_of(value))
    return Markup(fit.mark(len(fit.pieces) - 1))


def _slack_json(value: Any) -> Markup:
    return Markup(markup.SLACK.encode(str(value)))


def _environment(layout: Layout, loader: BaseLoader) -> Environment:
    fmt = layout.format
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=True,
        finalize=fmt.finalize,
        undefined=_Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        cache_size=-1,
    )
    env.filters.update(
        within=fmt.within,
        when=messages.when,
        escape=fmt.finalize,
        e=fmt.finalize,
        forceescape=lambda value: Markup(fmt.encode(fmt.escape(str(value)))),
    )
    env.globals.update(
        emoji=messages.emoji,
        headline_prefix=messages.headline_prefix,
        body=messages.body,
        risk_snapshot=messages.risk_snapshot,
    )
    if layout is TELEGRAM:
        env.filters.update(
            fit=_telegram_fit,
            telegram_links=lambda links: Markup(messages.telegram_links(links)),
        )
        env.globals["telegram_mentions"] = messages.telegram_mentions
    elif layout is SLACK:
        env.filters.update(
            fit=lambda value: fmt.within(value, messages.SLACK_SECTION_LIMIT),
            tojson=markup.slack_tojson,
        )
        env.globals.update(
            # A row of url buttons (one JSON block, or nothing), and the escalation's people
            # as live mentions (they come from the settings, never from an alert).
            slack_link_blocks=lambda links: Markup(
                ",".join(
                    json.dumps(b, ensure_ascii=False) for b in messages.slack_link_blocks(links)
                )
            ),
            slack_mentions=lambda alert: _slack_json(messages.slack_mentions(alert)),
        )
    elif layout is EMAIL_HTML:
        env.filters.update(fit=fmt.finalize, nl2br=markup.nl2br)
    elif layout is EMAIL_TEXT:
        env.filters.update(fit=str, strip_markup=messages.strip_markup)
    else:
        env.filters["fit"] = fmt.finalize
    return env


# -- the templates ------------------------------------------------------------------------------


def _layout_of(name: str) -> Layout | None:
    """The layout a template name belongs to: a default, or ``<channel>/<stem><suffix>``."""
    for layout in LAYOUTS:
        if name == layout.default:
            return layout
    folder, slash, file = name.partition("/")
    if not slash or "/" in file:
        return None
    for layout in LAYOUTS:
        if folder == layout.folder and file.endswith(layout.suffix):
            stem = file.removesuffix(layout.suffix)
            if stem.startswith(PARTIAL_PREFIX) and len(stem) > 1:
                return layout
            if stem.startswith(SOURCE_PREFIX) and len(stem) > len(SOURCE_PREFIX):
                return layout
            if ALERT_NAME.fullmatch(stem):
                return layout
    return None


def _is_partial(name: str) -> bool:
    return name.rpartition("/")[2].startswith(PARTIAL_PREFIX)


class Templates:
    """Every layout's templates, read and compiled once; ``load`` builds and checks them."""

    def __init__(self, sources: Mapping[str, Source], directory: Path | None = None) -> None:
        self.directory = directory
        self._sources = dict(sources)
        loader = _Loader(self._sources)
        self._envs = {layout.name: _environment(layout, loader) for layout in LAYOUTS}
        self.overrides = sorted(
            name
            for name in self._sources
            if not name.startswith("default/") and not _is_partial(name)
        )

    # -- lookup -------------------------------------------------------------------------------

    def lookup(self, layout: Layout, item: Claimed) -> str:
        """The template an alert's message uses: its alert name's, its source's, the default."""
        for stem in (item.alertname, f"{SOURCE_PREFIX}{item.source}"):
            name = f"{layout.folder}/{stem}{layout.suffix}"
            if name in self._sources and not _is_partial(name):
                return name
        return layout.default

    def template_for(self, layout: str, item: Claimed) -> str:
        """``lookup`` by the layout's name (telegram, slack, email_html, email_text)."""
        return self.lookup(BY_NAME[layout], item)

    def try_alert(self, item: Claimed, links: Sequence[Link] = ()) -> None:
        """Render the operator's templates an alert uses; raise TemplateError where one fails
        (delivery would lay that message out with the default instead)."""
        for layout in LAYOUTS:
            name = self.lookup(layout, item)
            if name != layout.default:
                try:
                    self.render(layout, name, item, links)
                except Exception as exc:
                    raise self._error(exc, name, item.kind) from None

    # -- rendering ----------------------------------------------------------------------------

    def telegram_text(
        self, item: Claimed, links: Sequence[Link] = (), notes: Sequence[str] = ()
    ) -> str:
        """Telegram HTML, at most 4096 characters (cut after rendering, never inside a tag or
        an entity, if a template writes more)."""
        return str(self.message(TELEGRAM, item, links, notes))

    def slack_body(self, item: Claimed, links: Sequence[Link] = ()) -> dict[str, Any]:
        """The Slack payload (``text``, ``attachments``), each section within Slack's limits."""
        body = self.message(SLACK, item, links)
        assert isinstance(body, dict)
        return body

    def email_html(self, item: Claimed, links: Sequence[Link] = ()) -> str:
        return str(self.message(EMAIL_HTML, item, links))

    def email_text(self, item: Claimed, links: Sequence[Link] = ()) -> str:
        return str(self.message(EMAIL_TEXT, item, links))

    def message(
        self, layout: Layout, item: Claimed, links: Sequence[Link], notes: Sequence[str] = ()
    ) -> str | dict[str, Any]:
        """An alert's message in ``layout``: its operator's template, or the default when it
        has none or that one fails on this alert (logged, naming the file and line)."""
        name = self.lookup(layout, item)
        if name != layout.default:
            try:
                return self.render(layout, name, item, links, notes)
            except Exception as exc:  # an operator's template: the message goes out all the same
                error = self._error(exc, name, item.kind)
                log.error("%s; this message is laid out by the default template", error)
        return self.render(layout, layout.default, item, links, notes)

    def render(
        self,
        layout: Layout,
        name: str,
        item: Claimed,
        links: Sequence[Link] = (),
        notes: Sequence[str] = (),
    ) -> str | dict[str, Any]:
        """Template ``name`` of ``layout`` for ``item``, finished for its channel; raises what
        the template raises (``_error`` locates it)."""
        context = _context(item, links, notes if layout is TELEGRAM else ())
        if layout is EMAIL_TEXT:
            context["telegram_message"] = Markup(self.telegram_text(item))
        fit = _Fit()
        context["_fit"] = fit
        # Every line a template writes ends in a newline; the message's last one does not.
        text = self._envs[layout.name].get_template(name).render(context).removesuffix("\n")
        if layout is TELEGRAM:
            return markup.cut_html(fit.fill(text))
        if layout is SLACK:
            return _slack_payload(text)
        return text

    def _error(self, exc: BaseException, name: str, kind: str | None = None) -> TemplateError:
        """``exc`` as ``templates: <file>:<line>: <message>``, at the template line it came from."""
        if isinstance(exc, TemplateError):
            return exc
        paths = {source.path for source in self._sources.values()}
        file, line = self._sources[name].path, None
        if isinstance(exc, TemplateSyntaxError):
            file, line = exc.filename or file, exc.lineno
        else:
            for frame in reversed(traceback.extract_tb(exc.__traceback__)):
                if frame.filename in paths:
                    file, line = frame.filename, frame.lineno
                    break
        message = str(exc).replace("'receiver.model.Claimed object'", "alert") or type(exc).__name__
        if kind is not None and not isinstance(exc, TemplateSyntaxError):
            message = f"{message} (rendering a {kind} message)"
        return TemplateError(file, line, message)

    # -- the start-up check -------------------------------------------------------------------

    def check(self) -> None:
        """Compile every template, then render each layout's default and every operator
        template for sample alerts of every kind; raise TemplateError for the first failure."""
        for name in self._sources:
            layout = _layout_of(name)
            assert layout is not None
            try:
                self._envs[layout.name].get_template(name)
            except TemplateSyntaxError as exc:
                raise self._error(exc, name) from None
        for layout in LAYOUTS:
            for name in [layout.default, *(n for n in self.overrides if _layout_of(n) is layout)]:
                for item, links, notes in samples(name):
                    self._check_one(layout, name, item, links, notes)

    def _check_one(
        self, layout: Layout, name: str, item: Claimed, links: Sequence[Link], notes: Sequence[str]
    ) -> None:
        try:
            out = self.render(layout, name, item, links, notes)
        except Exception as exc:
            raise self._error(exc, name, item.kind) from None
        where = self._sources[name].path
        if layout is TELEGRAM:
            problem = markup.telegram_html_problem(str(out))
            if problem:
                message = f"its {item.kind} message is not HTML Telegram accepts: {problem}"
                raise TemplateError(where, None, message)
        if layout is SLACK and any(mark in json.dumps(out) for mark in INJECTED):
            raise TemplateError(
                where,
                None,
                "a label or annotation reaches Slack unescaped (a sample's <…> became a live "
                "link or mention): write values with {{ … }}, without |safe",
            )


def _slack_payload(text: str) -> dict[str, Any]:
    try:
        body = json.loads(markup.drop_trailing_commas(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"renders no valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise ValueError('renders no Slack payload: a JSON object with a "text" string')
    return markup.limit_slack(body)


# -- sample alerts for the check ----------------------------------------------------------------

INJECTED = ("<http://d76.invalid", "<!here|d76-sample>")  # never in a rendered Slack text
_AWKWARD = 'Up "bit" \\ <b>x</b> </code> & &amp; <!here|d76-sample> <http://d76.invalid|y>\n2nd'
_SAMPLE_LINKS = (
    Link("History", "http://127.0.0.1:9095/history/1", "history"),
    Link("Runbook", "http://127.0.0.1:9095/runbooks/Sample", "runbook"),
    Link("Graph", "http://127.0.0.1:9090/graph?g0.expr=up%3D%3D0&g0.tab=1", "graph"),
    Link("New silence", "http://127.0.0.1:9093/#/silences/new?filter=%7B%7D", "silence"),
)


def _sample(alertname: str, source: str, **changes: Any) -> Claimed:
    values: dict[str, Any] = {
        "id": 1, "kind": Kind.FIRING, "target": "telegram", "priority": 0, "attempts": 0,
        "reply_to": None, "alert_id": 1, "severity": "P0", "source": source,
        "alertname": alertname, "title": "GlobalGuard BLOCK", "message": "", "status": "firing",
        "starts_at": datetime(2026, 11, 24, 3, 0, tzinfo=UTC), "ends_at": None,
        "labels": {
            "alertname": alertname, "severity": "P0", "source": source, "engine": "d75",
            "exchange": "Upbit", "category": "order", "route": "Upbit-Binance-BTCKRW",
            "symbol": "BTC", "tier": "global",
        },
        "annotations": {
            "summary": "GlobalGuard BLOCK",
            "description": "Reason: Global Daily Loss Limit\nDaily Loss: $55,000 / $50,000 (limit)",
            "metrics": "Metrics:\n  - REST latency: 1,250ms",
            "action": "Trading HALTED until next day",
            "risk": "Risk snapshot:\n  - Portfolio Value: $945,000 (start: $1,000,000)",
            "runbook_url": "http://127.0.0.1:9095/runbooks/GlobalGuardDailyLossLimit",
        },
        "generator_url": "http://127.0.0.1:9090/graph?g0.expr=up",
        "mentions": ("@d76_lead", "U0123ABCD"),
    }  # fmt: skip
    values.update(changes)
    return Claimed(**values)


def samples(name: str) -> list[tuple[Claimed, tuple[Link, ...], tuple[str, ...]]]:
    """(alert, links, notes) to check template ``name`` with: an ordinary alert of the name or
    source the file is for, one with awkward values, one with nothing but its name; each as a
    firing, a resolved (and "fired and resolved"), a reminder and an escalation."""
    stem = name.rpartition("/")[2].split(".", 1)[0]
    alertname, source = "GlobalGuardDailyLossLimit", "RiskGuard"
    if stem.startswith(SOURCE_PREFIX):
        source = stem.removeprefix(SOURCE_PREFIX)
    elif not name.startswith("default/"):
        alertname = stem
    awkward = {k: _AWKWARD for k in ("exchange", "route", "symbol")}
    plain = _sample(alertname, source)
    bases = [
        (plain, _SAMPLE_LINKS, ("✅ Acknowledged by @alice at 21:31 UTC",)),
        (
            _sample(
                alertname, source, title=_AWKWARD,
                labels={**plain.labels, **awkward},
                annotations={k: _AWKWARD for k in plain.annotations},
            ),
            _SAMPLE_LINKS,
            (),
        ),
        (_sample(alertname, source, labels={"alertname": alertname}, annotations={}), (), ()),
    ]  # fmt: skip
    ended = datetime(2026, 11, 24, 3, 7, tzinfo=UTC)
    found = []
    for item, links, notes in bases:
        for kind in KINDS:
            status = "resolved" if kind == Kind.RESOLVED else "firing"
            changed = replace(item, kind=kind, status=status)
            if kind == Kind.RESOLVED:
                changed = replace(changed, ends_at=ended)
                found.append((replace(changed, firing_told=False), links, notes))
            found.append((changed, links, notes))
    return found


# -- loading ------------------------------------------------------------------------------------

NAMES_HELP = (
    "a template here is <channel>/<AlertName><ext>, <channel>/source-<Source><ext> or a partial "
    "<channel>/_<name><ext>, with telegram/*.html.j2, slack/*.json.j2, email/*.html.j2 or "
    "email/*.txt.j2"
)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(str(path), None, f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise TemplateError(str(path), None, f"cannot be read: {exc.strerror}") from None


def load(directory: Path | None) -> Templates:
    """The defaults and the operator's templates in ``directory`` (None, or a directory that
    does not exist: the defaults alone), checked; raise TemplateError naming the file."""
    sources = {
        f"default/{path.name}": Source(f"default/{path.name}", str(path), _read(path))
        for path in sorted(DEFAULTS_DIR.glob("*.j2"))
    }
    if directory is not None and directory.exists():
        if not directory.is_dir():
            raise TemplateError(str(directory), None, "not a directory")
        for path in sorted(directory.rglob("*.j2")):
            name = path.relative_to(directory).as_posix()
            if any(part.startswith(".") for part in name.split("/")) or not path.is_file():
                continue  # an editor's or a tool's hidden file
            if _layout_of(name) is None or name.startswith("default/"):
                raise TemplateError(str(path), None, f"not a template name: {NAMES_HELP}")
            sources[name] = Source(name, str(path), _read(path))
    templates = Templates(sources, directory)
    templates.check()
    return templates


@functools.cache
def defaults() -> Templates:
    """The package's default templates alone (what ``receiver.messages`` lays out with)."""
    return load(None)


# The default layouts as functions: what a message looks like without an operator's template.


def telegram_text(item: Claimed, links: Sequence[Link] = (), notes: Sequence[str] = ()) -> str:
    """Telegram HTML for one alert notification (firing, resolved, reminder, escalation).
    ``notes`` (Telegram HTML already) follow the alert's own lines; the row of links ends it."""
    return defaults().telegram_text(item, links, notes)


def slack_body(item: Claimed, links: Sequence[Link] = ()) -> dict[str, object]:
    """An incoming-webhook payload: Block Kit inside an attachment coloured by severity."""
    return defaults().slack_body(item, links)


def email_html(item: Claimed, links: Sequence[Link] = ()) -> str:
    """The message as a small HTML document, every value escaped."""
    return defaults().email_html(item, links)


def plain_text(item: Claimed, links: Sequence[Link] = ()) -> str:
    """The message without markup (email, the log when a channel is not configured): one
    "label: URL" line per link."""
    return defaults().email_text(item, links)
