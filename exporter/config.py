"""Exporter settings: config/exporter.yml plus the D76_ENV overlay, then EXPORTER_PORT."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from d76config import ConfigError, config_dir, load_section

OTHER = "other"  # the label value for names that are not declared


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=1, le=65535)


class SendAlert(_Strict):
    alertmanager_urls: tuple[str, ...] = ("http://127.0.0.1:9093",)
    queue_size: int = Field(1000, ge=1)
    timeout_seconds: float = Field(2.0, gt=0)
    attempts: int = Field(5, ge=1, le=20)
    resend_seconds: float = Field(60.0, gt=0)


class ExporterSettings(_Strict):
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
    try:
        return ExporterSettings.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(
            f"exporter.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid exporter configuration:\n  {problems}") from None
