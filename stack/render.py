"""Copies of prometheus.yml and alertmanager.yml for the ports and paths actually in use.

The files in prometheus/ and alertmanager/ are what operators edit; they name the default
addresses on 127.0.0.1. The running copies differ only in those addresses, absolute paths,
the webhook token file, the maintenance windows of config/maintenance.yml (time intervals and
routes) and, for tests, shortened Alertmanager timers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import d76maintenance
from d76secrets import write_private

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = REPO / "prometheus"
ALERTMANAGER_DIR = REPO / "alertmanager"


@dataclass(frozen=True)
class Ports:
    prometheus: int = 9090
    alertmanager: int = 9093
    receiver: int = 9095
    exporter: int = 9108
    postgres: int = 55432
    # the second half of the highly available pair (make run-ha)
    alertmanager2: int = 9193
    receiver2: int = 9195
    cluster: int = 9094  # Alertmanager gossip, first and second
    cluster2: int = 9194
    exporter2: int = 9109  # a second D75 engine (simulator), with `engines=2`


DEFAULT_PORTS = Ports()


def _retarget(text: str, ports: Ports) -> str:
    for name in ("prometheus", "alertmanager", "receiver", "exporter"):
        default, actual = getattr(DEFAULT_PORTS, name), getattr(ports, name)
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{actual}")
    return text


def _write(path: Path, data: dict[str, Any]) -> Path:
    # 0600 from the first byte, replaced atomically: the Alertmanager copy may hold the bot
    # token, and a reloading Alertmanager must never read a half-written file.
    return write_private(
        path,
        "# Generated from the repository's file for the ports in use. Edit the original.\n"
        + yaml.safe_dump(data, sort_keys=False),
    )


SECOND_ENGINE = "d75-2"  # the engine label of the second simulator (engines=2)


def prometheus_config(
    out: Path, ports: Ports, source: Path | None = None, *, ha: bool = False, engines: int = 1
) -> Path:
    source = source or PROMETHEUS_DIR / "prometheus.yml"
    data = yaml.safe_load(_retarget(source.read_text(), ports))
    data["rule_files"] = [
        str((source.parent / pattern).resolve()) for pattern in data["rule_files"]
    ]
    if engines > 1:  # a second D75 engine: its own target, named by its own engine label
        d75 = next(job for job in data["scrape_configs"] if job["job_name"] == "d75")
        d75["static_configs"].append(
            {"targets": [f"127.0.0.1:{ports.exporter2}"], "labels": {"engine": SECOND_ENGINE}}
        )
    if ha:  # alerts go to both Alertmanagers; both receivers and Alertmanagers are scraped
        second = {
            f"127.0.0.1:{ports.alertmanager}": f"127.0.0.1:{ports.alertmanager2}",
            f"127.0.0.1:{ports.receiver}": f"127.0.0.1:{ports.receiver2}",
        }
        blocks = [c for group in data["alerting"]["alertmanagers"] for c in group["static_configs"]]
        blocks += [c for job in data["scrape_configs"] for c in job["static_configs"]]
        for block in blocks:
            block["targets"] += [second[t] for t in block["targets"] if t in second]
    return _write(out, data)


def _shorten(route: dict[str, Any]) -> None:
    """Test timers: every group waits at most 1 s and is re-evaluated every second."""
    if "group_wait" in route and route["group_wait"] not in ("0s", "0"):
        route["group_wait"] = "1s"
    route["group_interval"] = "1s"
    for child in route.get("routes", []):
        _shorten(child)


@dataclass(frozen=True)
class TelegramFallback:
    """Alertmanager's own Telegram sender for the d76-fallback receiver."""

    bot_token: str
    chat_id: str
    api_url: str = "https://api.telegram.org"


SEVERITY_RECEIVERS = ("d76-p0", "d76-p1", "d76-p2", "d76-p3")


def _add_maintenance(
    data: dict[str, Any], maintenance: d76maintenance.Maintenance, webhook_url: str
) -> None:
    """config/maintenance.yml into the running copy: one time interval per window, and under
    each severity route the exchange's children (history only during its windows, muted page);
    the d76-maintenance receiver stores what fires inside a window."""
    data["time_intervals"] = [
        *data.get("time_intervals", []),
        *d76maintenance.time_intervals(maintenance),
    ]
    for route in data["route"].get("routes", []):
        if route.get("receiver") in SEVERITY_RECEIVERS:
            children = d76maintenance.routes_for(maintenance, route["receiver"])
            route["routes"] = [*children, *route.get("routes", [])]
    data["receivers"].append(
        {
            "name": d76maintenance.RECEIVER,
            "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
        }
    )


def alertmanager_config(
    out: Path,
    ports: Ports,
    *,
    token_file: Path | None = None,
    fast_timers: bool = False,
    source: Path | None = None,
    telegram: TelegramFallback | None = None,
    maintenance: d76maintenance.Maintenance | None = None,
) -> Path:
    source = source or ALERTMANAGER_DIR / "alertmanager.yml"
    data = yaml.safe_load(_retarget(source.read_text(), ports))
    data["templates"] = [str((source.parent / t).resolve()) for t in data.get("templates", [])]
    receiver_url = f"http://127.0.0.1:{ports.receiver}/"
    if maintenance is not None and maintenance.windows:
        _add_maintenance(data, maintenance, f"{receiver_url}webhook")
    for receiver in data.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            if token_file is not None and hook["url"].startswith(receiver_url):
                hook["http_config"] = {
                    "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                }
    if telegram is not None:
        for receiver in data.get("receivers", []):
            if receiver["name"] == "d76-fallback":
                receiver["telegram_configs"] = [
                    {
                        "api_url": telegram.api_url,
                        "bot_token": telegram.bot_token,  # the running copy only, mode 0600
                        "chat_id": int(telegram.chat_id),
                        "parse_mode": "HTML",
                        "message": '{{ template "d76.telegram.fallback" . }}',
                        "send_resolved": True,
                    }
                ]
    if fast_timers:
        data["route"]["group_wait"] = "1s"
        _shorten(data["route"])
    return _write(out, data)  # mode 0600: it may hold the bot token
