"""Exporter settings: config/exporter.yml plus the D76_ENV overlay, then EXPORTER_PORT."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from d76config import ConfigError, load_section

OTHER = "other"  # the label value for names that are not declared


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Listen(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=1, le=65535)


class Limits(_Strict):
    global_daily_loss_usd: float = Field(50_000, gt=0)


class ExporterSettings(_Strict):
    listen: Listen = Listen()
    exchanges: tuple[str, ...] = ("Upbit", "Binance")
    routes: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    limits: Limits = Limits()


def load(environ: Mapping[str, str] | None = None) -> ExporterSettings:
    env = os.environ if environ is None else environ
    data = load_section("exporter")
    if env.get("EXPORTER_PORT"):
        data.setdefault("listen", {})["port"] = env["EXPORTER_PORT"]
    try:
        return ExporterSettings.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(
            f"exporter.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid exporter configuration:\n  {problems}") from None
