"""Exporter settings: config/exporter.yml plus the D76_ENV overlay, then EXPORTER_PORT."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from d76config import StrictSettings, config_dir, load_section, validate_section

OTHER = "other"  # the label value for names that are not declared


class Listen(StrictSettings):
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=1, le=65535)


class SendAlert(StrictSettings):
    alertmanager_urls: tuple[str, ...] = ("http://127.0.0.1:9093",)
    queue_size: int = Field(1000, ge=1)
    timeout_seconds: float = Field(2.0, gt=0)
    attempts: int = Field(5, ge=1, le=20)
    resend_seconds: float = Field(60.0, gt=0)


class ExporterSettings(StrictSettings):
    listen: Listen = Listen()
    exchanges: tuple[str, ...] = ("Upbit", "Binance")
    categories: tuple[str, ...] = ("order", "market_data", "account")
    routes: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    thresholds_file: Path | None = None  # None: the seed's defaults, no reloading
    send_alert: SendAlert = SendAlert()


def load(environ: Mapping[str, str] | None = None) -> ExporterSettings:
    env = os.environ if environ is None else environ
    data = load_section("exporter")
    if env.get("EXPORTER_PORT"):
        data.setdefault("listen", {})["port"] = env["EXPORTER_PORT"]
    if env.get("ALERTMANAGER_URLS"):
        urls = [u.strip() for u in env["ALERTMANAGER_URLS"].split(",") if u.strip()]
        data.setdefault("send_alert", {})["alertmanager_urls"] = urls
    thresholds = data.get("thresholds_file", "thresholds.yml")
    if thresholds is not None:
        data["thresholds_file"] = config_dir() / thresholds  # absolute paths stay absolute
    return validate_section("exporter", ExporterSettings, data)
