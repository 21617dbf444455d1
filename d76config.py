"""Layered YAML settings shared by the receiver and the exporter.

``config/<section>.yml`` is the base; ``config/<D76_ENV>.yml`` (dev or prod) overlays the
``<section>:`` key on top of it. Environment variables are applied afterwards by each
component, which knows which of its keys they name. Read once at start-up.

Each component declares its settings as ``StrictSettings`` models and turns the merged dict
into them with ``validate_section``, whose ``ConfigError`` names every bad key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

ENVIRONMENTS = ("dev", "prod")
DEFAULT_CONFIG_DIR = Path(__file__).resolve().parent / "config"


class ConfigError(Exception):
    """Configuration that cannot be used; the message names the key or file."""


class StrictSettings(BaseModel):
    """Base of every settings model: an unknown key is an error, and settings are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def validate_section(section: str, model: type[SettingsT], data: Mapping[str, Any]) -> SettingsT:
    """``data`` (the merged ``section``) as a ``model``, or a ConfigError naming each bad key,
    ``invalid <section> configuration:`` then one ``<section>.<dotted.key>: <message>`` a line.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "(top level)"
            lines.append(f"{section}.{key}: {err['msg']}")
        raise ConfigError(f"invalid {section} configuration:\n  " + "\n  ".join(lines)) from None


def config_dir() -> Path:
    return Path(os.environ.get("D76_CONFIG_DIR") or DEFAULT_CONFIG_DIR)


def environment() -> str:
    env = os.environ.get("D76_ENV", "dev").strip().lower() or "dev"
    if env not in ENVIRONMENTS:
        raise ConfigError(f"D76_ENV: must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    return env


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``overlay`` merged in; nested mappings merge, anything else replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_section(section: str) -> dict[str, Any]:
    """Base file for ``section`` merged with the current environment's overlay for it."""
    directory = config_dir()
    base_path = directory / f"{section}.yml"
    if not base_path.is_file():
        raise ConfigError(f"{base_path}: file not found (set D76_CONFIG_DIR?)")
    base = _read_yaml(base_path)
    overlay_file = directory / f"{environment()}.yml"
    overlay = _read_yaml(overlay_file).get(section) or {}
    if not isinstance(overlay, dict):
        raise ConfigError(f"{overlay_file}: {section}: must be a mapping")
    return deep_merge(base, overlay)
