"""Receiver settings: YAML (config/receiver.yml + the D76_ENV overlay), then environment.

Read once at start-up by ``load()``; invalid settings raise ``ConfigError`` naming the key.
Secrets come from the environment only and are kept out of ``repr``.

Longer than the house's usual module (~360 lines): one settings tree with its environment
table and its cross-section check (every target a setting names exists); the operator's
loop (escalation, mute, named chats, the routing table) is in ``config_loop``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from d76config import (
    ConfigError,
    StrictSettings,
    config_dir,
    environment,
    load_section,
    validate_section,
)
from receiver import model
from receiver.config_loop import (
    CHAT_NAME,
    Escalation,
    EscalationLevel,
    Mute,
    RouteRule,
    TelegramChat,
    _known_targets,
    escalation_rules,
)

__all__ = ["ConfigError", "EscalationLevel", "Settings", "load"]
log = logging.getLogger("d76.config")


class Listen(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(9095, ge=1, le=65535)
    workers: int | None = Field(None, ge=1, le=256)  # gunicorn processes; None: one per core


class Webhook(StrictSettings):
    max_body_bytes: int = Field(1_048_576, ge=1024)
    token: SecretStr | None = None  # RECEIVER_WEBHOOK_TOKEN
    statement_timeout_seconds: float = Field(2, gt=0)  # per SQL statement of an ingest


class Telegram(StrictSettings):
    api_url: str = "https://api.telegram.org"
    timeout_seconds: float = Field(10, gt=0)
    bot_token: SecretStr | None = None  # TELEGRAM_BOT_TOKEN
    chat_id: str | None = None  # TELEGRAM_CHAT_ID
    topic: int | None = Field(None, ge=1)  # the forum topic (message_thread_id) in chat_id
    # TELEGRAM_ESCALATION_CHAT_ID: the chat of the target telegram_escalation (escalations)
    escalation_chat_id: str | None = None
    # More chats, by name: the target telegram_<name> (routing.table sends alerts there).
    chats: dict[Annotated[str, Field(pattern=CHAT_NAME)], TelegramChat] = Field(
        default_factory=dict
    )
    # Who may press Ack / Silence (Telegram user ids); empty: anyone in the configured chat.
    allowed_user_ids: list[int] = Field(default_factory=list)  # TELEGRAM_ALLOWED_USER_IDS
    buttons: bool = True  # Ack and Silence buttons, read by long-polling getUpdates
    poll_timeout_seconds: int = Field(20, ge=1, le=50)  # getUpdates long-poll duration
    silence_hours: float = Field(1, gt=0, le=168)

    @property
    def configured(self) -> bool:
        return bool(self.bot_token and self.bot_token.get_secret_value() and self.chat_id)

    def chat_for(self, target: str) -> str | None:
        """The chat a Telegram target sends to (None: that target is not configured)."""
        if target == "telegram_escalation":
            return self.escalation_chat_id
        named = self.chats.get(target.removeprefix("telegram_"))
        return named.chat_id if named is not None and target != "telegram" else self.chat_id

    def topic_for(self, target: str) -> int | None:
        named = self.chats.get(target.removeprefix("telegram_"))
        if target == "telegram":
            return self.topic
        return named.topic if named is not None else None

    def chat_targets(self) -> dict[str, str]:
        """Every configured chat -> its target (where buttons and commands are read)."""
        found = {}
        targets = ["telegram_escalation", *(f"telegram_{n}" for n in self.chats), "telegram"]
        for target in targets:
            chat = self.chat_for(target)
            if chat:
                found[chat] = target
        return found

    def allowed_in(self, target: str, user_id: int) -> bool | None:
        """Whether ``user_id`` may press buttons and give commands in ``target``'s chat: its
        own allowlist if it has one, else the global one (None: no list, anyone may press)."""
        named = self.chats.get(target.removeprefix("telegram_"))
        listed = named.allowed_user_ids if named and named.allowed_user_ids is not None else None
        if listed is None:
            listed = self.allowed_user_ids
        return (user_id in listed) if listed else None


CHANNEL_ID = r"^[CG][A-Z0-9]{6,20}$"  # a Slack channel id


class Slack(StrictSettings):
    timeout_seconds: float = Field(10, gt=0)
    webhook_url_critical: SecretStr | None = None  # SLACK_WEBHOOK_URL_CRITICAL (#critical)
    webhook_url_alerts: SecretStr | None = None  # SLACK_WEBHOOK_URL_ALERTS (#alerts)
    # App mode (instead of the webhooks, when SLACK_BOT_TOKEN is set): chat.postMessage to
    # channel ids, resolves threaded under their alert, messages updated on ack and resolve,
    # Ack / Silence / Mute buttons read over Socket Mode (SLACK_APP_TOKEN).
    bot_token: SecretStr | None = None  # SLACK_BOT_TOKEN (xoxb-…)
    app_token: SecretStr | None = None  # SLACK_APP_TOKEN (xapp-…, connections:write)
    api_url: str = "https://slack.com/api/"  # SLACK_API_URL: a test stand-in
    channel_critical: str | None = Field(
        None, pattern=r"^[CG][A-Z0-9]{6,20}$"
    )  # SLACK_CHANNEL_CRITICAL
    channel_alerts: str | None = Field(
        None, pattern=r"^[CG][A-Z0-9]{6,20}$"
    )  # SLACK_CHANNEL_ALERTS
    allowed_user_ids: list[str] = Field(default_factory=list)  # SLACK_ALLOWED_USER_IDS

    @property
    def app_mode(self) -> bool:
        return bool(self.bot_token and self.bot_token.get_secret_value())

    def channel_for(self, target: str) -> str | None:
        return self.channel_critical if target == "slack_critical" else self.channel_alerts


class Email(StrictSettings):
    smtp_host: str | None = None  # SMTP_HOST
    smtp_port: int = Field(25, ge=1, le=65535)  # SMTP_PORT
    # SMTP_STARTTLS. Unset: on whenever a password is set (it never crosses the wire in
    # clear); an explicit false turns that off (a relay on loopback), with a warning.
    starttls: bool | None = None
    username: str | None = None  # SMTP_USERNAME
    password: SecretStr | None = None  # SMTP_PASSWORD
    sender: str = "d76-alerting@localhost"  # ALERT_EMAIL_FROM
    to: list[str] = Field(default_factory=list)  # ALERT_EMAIL_TO, comma-separated
    timeout_seconds: float = Field(10, gt=0)
    daily_summary_at: str = Field("00:05", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # UTC

    @property
    def configured(self) -> bool:
        return bool(self.smtp_host and self.to)

    @property
    def use_starttls(self) -> bool:
        if self.starttls is None:
            return bool(self.password and self.password.get_secret_value())
        return self.starttls


class DeadMan(StrictSettings):
    timeout_seconds: float = Field(120, gt=0)  # no Watchdog for this long: page
    check_seconds: float = Field(10, gt=0)
    targets: list[str] = Field(default_factory=lambda: ["telegram", "slack_critical"])

    @model_validator(mode="after")
    def _targets_known(self) -> DeadMan:
        _known_targets("targets", self.targets)
        return self


class Api(StrictSettings):
    read_token: SecretStr | None = None  # HISTORY_API_READ_TOKEN
    write_token: SecretStr | None = None  # HISTORY_API_WRITE_TOKEN (acknowledge)
    retention_days: int = Field(400, ge=1)  # python -m receiver prune deletes what is older
    partitions_ahead_months: int = Field(3, ge=1, le=24)  # monthly partitions made ahead
    statement_timeout_seconds: float = Field(5, gt=0)  # per SQL statement of the API and page
    max_range_days: int = Field(92, ge=1)  # widest from..to that stats and the page accept


def _external(value: str | None) -> str | None:
    """An external address as links use it: absolute http(s), no credentials, no query. The
    messages never repeat the value (it might carry a password)."""
    if value is None or not value.strip():
        return None
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (links are shown in messages)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        raise ValueError("must have no query, fragment or spaces")
    return url


class Links(StrictSettings):
    """The addresses the links in every message are built on, as an operator's browser
    reaches each component (unset: derived from the stack's own addresses, see
    ``Settings.link_urls``)."""

    receiver_url: str | None = None  # RECEIVER_EXTERNAL_URL: history and runbooks
    alertmanager_url: str | None = None  # ALERTMANAGER_EXTERNAL_URL: the new-silence form
    # PROMETHEUS_EXTERNAL_URL: graph links are moved onto it; unset, they stay as Prometheus
    # wrote them (its --web.external-url).
    prometheus_url: str | None = None

    @field_validator("receiver_url", "alertmanager_url", "prometheus_url")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return _external(value)


class MessageTemplates(StrictSettings):
    """Operators' message templates (``receiver.templates``: names, lookup, the check)."""

    # The directory of the overrides, relative to the config directory (``load()`` resolves
    # it; default templates/). None, as settings built in code have it: the defaults alone.
    directory: Path | None = None


class Routing(StrictSettings):
    receivers: dict[str, list[str]] = Field(default_factory=dict)
    default_targets: list[str] = Field(default_factory=lambda: ["telegram"])
    # Then, per alert, the first rule whose labels match says which chat "telegram" and which
    # Slack channel "slack_*" mean for it (config_loop.route).
    table: list[RouteRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _targets_known(self) -> Routing:
        for name, targets in [*self.receivers.items(), ("default_targets", self.default_targets)]:
            _known_targets(name, targets)
        return self

    def targets_for(self, receiver: str) -> list[str]:
        return self.receivers.get(receiver, self.default_targets)


class Dispatcher(StrictSettings):
    max_retries: int = Field(3, ge=0, le=20)  # quick retries before a message is reported failing
    backoff_base_seconds: float = Field(2, gt=0)
    backoff_max_seconds: float = Field(10, gt=0)  # a failing destination is probed this often
    retry_for_hours: float = Field(24, gt=0)  # an undelivered message is given up after this
    lease_seconds: float = Field(30, gt=0)  # renewed every third of it while a send runs
    idle_wake_seconds: float = Field(5, gt=0)
    rate_limit_per_window: int = Field(10, ge=1)  # messages per destination per window
    rate_window_seconds: float = Field(60, gt=0)
    p0_reserve: int = Field(2, ge=0)  # slots of each window only a P0 page may use
    sweep_after_seconds: float = Field(600, gt=0)  # permanently failed ones are queued again...
    max_sweeps: int = Field(6, ge=0)  # ...this many times at most...
    sweep_max_age_hours: float = Field(24, gt=0)  # ...while they are younger than this
    # Superseded by ``escalation`` (timers in PostgreSQL); still honoured when a file sets
    # them: they fill the remind_every_minutes / remind_targets that ``escalation`` leaves out.
    remind_after_minutes: dict[str, float] = Field(
        default_factory=lambda: {"P0": 12.0, "P1": 50.0, "P2": 200.0}
    )
    remind_targets: list[str] = Field(default_factory=lambda: ["telegram"])

    @model_validator(mode="after")
    def _reserve_leaves_room(self) -> Dispatcher:
        if self.p0_reserve >= self.rate_limit_per_window:
            raise ValueError("p0_reserve must be smaller than rate_limit_per_window")
        _known_targets("remind_targets", self.remind_targets)
        return self


class Graphs(StrictSettings):
    """Graph snapshots (``receiver.graphs``): which alerts get one and how it is drawn."""

    enabled: bool = True
    severities: list[str] = Field(default_factory=lambda: ["P0", "P1"])
    also: list[str] = Field(default_factory=list)  # alert names drawn whatever their severity
    never: list[str] = Field(default_factory=list)  # alert names never drawn
    window_minutes: float = Field(30, gt=0, le=24 * 60)  # drawn before the firing moment
    timeout_seconds: float = Field(5, gt=0, le=60)  # per Prometheus query; past it: skipped
    photo_within_seconds: float = Field(600, gt=0)  # a photo later than this is not sent
    lease_seconds: float = Field(30, gt=0)  # a worker that dies mid-graph frees it after this
    max_attempts: int = Field(2, ge=1, le=10)  # graphs whose worker died this often: skipped
    poll_seconds: float = Field(1, gt=0, le=60)  # how often new alerts are looked for

    def wanted(self, alertname: str, severity: str) -> bool:
        if not self.enabled or alertname in self.never:
            return False
        return severity in self.severities or alertname in self.also


class Settings(StrictSettings):
    environment: str = "dev"
    database_url: SecretStr | None = None  # DATABASE_URL
    # DATABASE_READ_URL: a streaming replica the history API and page read from (writes,
    # ingest, acknowledgements and /metrics stay on DATABASE_URL); unset: they read the primary.
    database_read_url: SecretStr | None = None
    alertmanager_url: str = "http://127.0.0.1:9093"  # ALERTMANAGER_URL: where Silence goes
    prometheus_url: str = "http://127.0.0.1:9090"  # PROMETHEUS_URL: checked when silent
    listen: Listen = Listen()
    webhook: Webhook = Webhook()
    telegram: Telegram = Telegram()
    slack: Slack = Slack()
    email: Email = Email()
    routing: Routing = Routing()
    dispatcher: Dispatcher = Dispatcher()
    api: Api = Api()
    deadman: DeadMan = DeadMan()
    escalation: Escalation = Escalation()
    mute: Mute = Mute()
    links: Links = Links()
    graphs: Graphs = Graphs()
    templates: MessageTemplates = MessageTemplates()

    def link_urls(self) -> tuple[str, str, str | None]:
        """(receiver, Alertmanager, Prometheus or None) for the links in messages. Unset, the
        receiver is http://<listen.host>:<listen.port> (127.0.0.1 for a wildcard host) and
        Alertmanager is ALERTMANAGER_URL without any credentials in it."""
        receiver = self.links.receiver_url
        if receiver is None:
            host = self.listen.host if self.listen.host not in ("", "0.0.0.0", "::") else None
            host = host or "127.0.0.1"
            host = f"[{host}]" if ":" in host else host
            receiver = f"http://{host}:{self.listen.port}"
        alertmanager = self.links.alertmanager_url
        if alertmanager is None:
            parts = urlsplit(self.alertmanager_url.strip().rstrip("/"))
            alertmanager = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        return receiver, alertmanager, self.links.prometheus_url

    def escalation_rules(self) -> dict[str, model.EscalationRule]:
        """Each severity's policy in seconds (``config_loop.escalation_rules``)."""
        return escalation_rules(self.escalation, self.dispatcher)

    def targets(self) -> tuple[str, ...]:
        """Every delivery target: the built-in ones and one per named Telegram chat."""
        return (*model.TARGETS, *(f"telegram_{name}" for name in self.telegram.chats))

    @model_validator(mode="after")
    def _named_targets_exist(self) -> Settings:
        """A target of a named chat (telegram_<name>) must be a chat of telegram.chats."""
        known = set(self.targets())
        used = [
            *(t for targets in self.routing.receivers.values() for t in targets),
            *self.routing.default_targets, *self.deadman.targets,
            *self.escalation.remind_targets,
            *(t for level in self.escalation.levels() for t in level.escalate_to),
        ]  # fmt: skip
        for target in used:
            if target not in known:
                raise ValueError(
                    f"unknown target {target!r}: add the chat {target[9:]!r} to telegram.chats"
                )
        for rule in self.routing.table:
            if rule.telegram not in (None, "default") and rule.telegram not in self.telegram.chats:
                raise ValueError(
                    f"routing.table: telegram {rule.telegram!r} is not a chat of telegram.chats"
                )
        return self

    @property
    def dsn(self) -> str:
        if self.database_url is None or not self.database_url.get_secret_value():
            raise ConfigError("DATABASE_URL: not set (the receiver needs PostgreSQL)")
        return self.database_url.get_secret_value()

    @property
    def read_dsn(self) -> str:
        """Where the history is read from: the replica if one is set, else the primary."""
        if self.database_read_url is not None and self.database_read_url.get_secret_value():
            return self.database_read_url.get_secret_value()
        return self.dsn


# Environment variable -> path of the key it sets. These names are the product's interface.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "DATABASE_URL": ("database_url",),
    "DATABASE_READ_URL": ("database_read_url",),
    "RECEIVER_PORT": ("listen", "port"),
    "RECEIVER_WEBHOOK_TOKEN": ("webhook", "token"),
    "TELEGRAM_API_URL": ("telegram", "api_url"),
    "TELEGRAM_BOT_TOKEN": ("telegram", "bot_token"),
    "TELEGRAM_CHAT_ID": ("telegram", "chat_id"),
    "TELEGRAM_ESCALATION_CHAT_ID": ("telegram", "escalation_chat_id"),
    "TELEGRAM_ALLOWED_USER_IDS": ("telegram", "allowed_user_ids"),
    "ALERTMANAGER_URL": ("alertmanager_url",),
    "PROMETHEUS_URL": ("prometheus_url",),
    "RECEIVER_EXTERNAL_URL": ("links", "receiver_url"),
    "ALERTMANAGER_EXTERNAL_URL": ("links", "alertmanager_url"),
    "PROMETHEUS_EXTERNAL_URL": ("links", "prometheus_url"),
    "HISTORY_API_READ_TOKEN": ("api", "read_token"),
    "HISTORY_API_WRITE_TOKEN": ("api", "write_token"),
    "SLACK_WEBHOOK_URL_CRITICAL": ("slack", "webhook_url_critical"),
    "SLACK_WEBHOOK_URL_ALERTS": ("slack", "webhook_url_alerts"),
    "SLACK_BOT_TOKEN": ("slack", "bot_token"),
    "SLACK_APP_TOKEN": ("slack", "app_token"),
    "SLACK_API_URL": ("slack", "api_url"),
    "SLACK_CHANNEL_CRITICAL": ("slack", "channel_critical"),
    "SLACK_CHANNEL_ALERTS": ("slack", "channel_alerts"),
    "SLACK_ALLOWED_USER_IDS": ("slack", "allowed_user_ids"),
    "SMTP_HOST": ("email", "smtp_host"),
    "SMTP_PORT": ("email", "smtp_port"),
    "SMTP_STARTTLS": ("email", "starttls"),
    "SMTP_USERNAME": ("email", "username"),
    "SMTP_PASSWORD": ("email", "password"),
    "ALERT_EMAIL_FROM": ("email", "sender"),
    "ALERT_EMAIL_TO": ("email", "to"),
}
SECRET_KEYS = {
    ("database_url",),
    ("database_read_url",),
    ("webhook", "token"),
    ("telegram", "bot_token"),
    ("slack", "webhook_url_critical"),
    ("slack", "webhook_url_alerts"),
    ("slack", "bot_token"),
    ("slack", "app_token"),
    ("email", "password"),
    ("api", "read_token"),
    ("api", "write_token"),
}


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def _has_path(data: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from files and environment; raise ConfigError naming the bad key."""
    env = os.environ if environ is None else environ
    data = load_section("receiver")
    for path in SECRET_KEYS:
        if _has_path(data, path):
            raise ConfigError(
                f"receiver.{'.'.join(path)}: secrets are read from the environment only; "
                "remove it from the YAML file"
            )
    for name, path in ENV_KEYS.items():
        value = env.get(name)
        if value not in (None, ""):
            if name in ("ALERT_EMAIL_TO", "TELEGRAM_ALLOWED_USER_IDS", "SLACK_ALLOWED_USER_IDS"):
                _set_path(data, path, [a.strip() for a in str(value).split(",") if a.strip()])
            else:
                _set_path(data, path, value)
    data["environment"] = environment()
    settings = validate_section("receiver", Settings, data)
    settings = _templates_in_config_dir(settings)
    if "remind_after_minutes" in settings.dispatcher.model_fields_set:
        log.warning(
            "receiver.dispatcher.remind_after_minutes is superseded by receiver.escalation "
            "(<severity>.remind_every_minutes); it still fills what escalation leaves unset"
        )
    return _buttons_need_allowlist_in_prod(settings)


def _templates_in_config_dir(settings: Settings) -> Settings:
    """templates.directory relative to the config directory, as the exporter's thresholds_file
    (an absolute path stays)."""
    directory = config_dir() / (settings.templates.directory or Path("templates"))
    templates = settings.templates.model_copy(update={"directory": directory})
    return settings.model_copy(update={"templates": templates})


def _buttons_need_allowlist_in_prod(settings: Settings) -> Settings:
    """In prod, Ack/Silence buttons without TELEGRAM_ALLOWED_USER_IDS stay off (anyone in the
    chat could acknowledge or silence): delivery goes on, and the log says why and what to set."""
    tg = settings.telegram
    if settings.environment != "prod" or not tg.buttons or tg.allowed_user_ids:
        return settings
    log.warning(
        "Telegram buttons are OFF: D76_ENV=prod and TELEGRAM_ALLOWED_USER_IDS is empty, so "
        "anyone in the chat could acknowledge or silence. Set TELEGRAM_ALLOWED_USER_IDS to "
        "the user ids who may press them (or receiver.telegram.buttons: false to silence this)."
    )
    return settings.model_copy(update={"telegram": tg.model_copy(update={"buttons": False})})
