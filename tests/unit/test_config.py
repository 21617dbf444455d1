"""Configuration: files, the D76_ENV overlay, environment variables, errors naming the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from d76config import ConfigError
from exporter import config as exporter_config
from exporter.thresholds import ThresholdCollector, ThresholdError
from exporter.thresholds import parse as parse_thresholds
from receiver import config
from tests.support import REPO


def _config_dir(tmp_path: Path, receiver_yml: str, overlay: str = "") -> Path:
    (tmp_path / "receiver.yml").write_text(receiver_yml)
    (tmp_path / "dev.yml").write_text(overlay)
    return tmp_path


def test_repository_config_loads_with_defaults(config_env: pytest.MonkeyPatch) -> None:
    settings = config.load()
    assert settings.listen.port == 9095
    assert settings.routing.targets_for("d76-p0") == ["telegram", "slack_critical"]
    assert settings.routing.targets_for("d76-p2") == ["telegram", "slack_alerts"]
    assert settings.routing.targets_for("d76-p3") == ["email"]
    assert settings.routing.targets_for("d76-watchdog") == []
    assert settings.routing.targets_for("unknown-receiver") == ["telegram"]
    assert settings.dispatcher.max_retries == 3
    assert not settings.telegram.configured


def test_environment_variables_override_files(config_env: pytest.MonkeyPatch) -> None:
    config_env.setenv("RECEIVER_PORT", "19095")
    config_env.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    config_env.setenv("TELEGRAM_CHAT_ID", "-1001")
    config_env.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081")
    settings = config.load()
    assert settings.listen.port == 19095
    assert settings.telegram.configured
    assert settings.telegram.api_url == "http://127.0.0.1:8081"
    assert "123:abc" not in repr(settings)  # secrets stay out of logs


def test_prod_overlay_is_selected_by_d76_env(config_env: pytest.MonkeyPatch) -> None:
    config_env.setenv("D76_ENV", "prod")
    assert config.load().environment == "prod"
    assert config.load().dispatcher.backoff_base_seconds == 2
    config_env.setenv("D76_ENV", "dev")
    assert config.load().dispatcher.backoff_base_seconds == 1


def test_an_unknown_environment_is_refused(config_env: pytest.MonkeyPatch) -> None:
    config_env.setenv("D76_ENV", "staging")
    with pytest.raises(ConfigError, match=r"D76_ENV: must be one of dev, prod"):
        config.load()


@pytest.mark.parametrize(
    ("yml", "named"),
    [
        ("listen: {port: 70000}", "receiver.listen.port"),
        ("listen: {port: many}", "receiver.listen.port"),
        ("dispatcher: {max_retries: -1}", "receiver.dispatcher.max_retries"),
        ("routing: {receivers: {d76-p0: [pager]}}", "unknown target 'pager'"),
        ("deadman: {targets: [telgram]}", "unknown target 'telgram'"),
        ("telegram: {colour: blue}", "receiver.telegram.colour"),
        ("telegram: {bot_token: '1:x'}", "receiver.telegram.bot_token: secrets are read"),
        ("listen: [1, 2", "not valid YAML"),
    ],
)
def test_invalid_settings_fail_naming_the_key(
    config_env: pytest.MonkeyPatch, tmp_path: Path, yml: str, named: str
) -> None:
    config_env.setenv("D76_CONFIG_DIR", str(_config_dir(tmp_path, yml)))
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert named in str(caught.value)


def test_an_invalid_environment_value_names_its_key(config_env: pytest.MonkeyPatch) -> None:
    config_env.setenv("RECEIVER_PORT", "ninety")
    with pytest.raises(ConfigError, match=r"receiver\.listen\.port"):
        config.load()


def test_the_receiver_refuses_to_start_on_bad_config(
    config_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import subprocess
    import sys

    env_dir = _config_dir(tmp_path, "listen: {port: 0}")
    result = subprocess.run(
        [sys.executable, "-m", "receiver", "migrate"],
        capture_output=True,
        text=True,
        env={
            "D76_CONFIG_DIR": str(env_dir),
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        },
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "receiver.listen.port" in result.stderr
    assert "Traceback" not in result.stderr


def test_exporter_config_names_bad_keys(config_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "exporter.yml").write_text("send_alert: {queue_size: 0}")
    config_env.setenv("D76_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"exporter\.send_alert\.queue_size"):
        exporter_config.load()


def test_thresholds_file_errors_name_the_threshold() -> None:
    with pytest.raises(ThresholdError, match="global_daily_loss: unknown threshold"):
        parse_thresholds("global_daily_loss: 5")
    with pytest.raises(ThresholdError, match="route_score_min: must be a number"):
        parse_thresholds("route_score_min: fifty")
    assert parse_thresholds("route_score_min: 40")["route_score_min"] == 40
    assert parse_thresholds("")["global_daily_loss_usd"] == 50_000  # the seed's default


def test_a_bad_threshold_edit_keeps_the_previous_values(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, Counter

    path = tmp_path / "thresholds.yml"
    path.write_text("route_score_min: 40\n")
    registry = CollectorRegistry()
    errors = Counter("errors", "test", registry=registry)
    collector = ThresholdCollector(path, errors)
    assert collector.values["route_score_min"] == 40
    path.write_text("route_score_min: [broken\n")
    os.utime(path, (1, 1))  # a different modification time, whatever the clock resolution
    assert collector.values["route_score_min"] == 40
    assert registry.get_sample_value("errors_total") == 1
    path.write_text("route_score_min: 45\n")
    os.utime(path, (2, 2))
    assert collector.values["route_score_min"] == 45


def test_buttons_stay_off_in_prod_without_an_allow_list(
    config_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config_env.setenv("D76_ENV", "prod")
    config_env.delenv("TELEGRAM_ALLOWED_USER_IDS", raising=False)
    with caplog.at_level("WARNING", logger="d76.config"):
        settings = config.load()
    assert settings.telegram.buttons is False
    assert "Telegram buttons are OFF" in caplog.text
    assert "TELEGRAM_ALLOWED_USER_IDS" in caplog.text
    config_env.setenv("TELEGRAM_ALLOWED_USER_IDS", "4242")
    assert config.load().telegram.buttons is True
    config_env.setenv("D76_ENV", "dev")
    config_env.delenv("TELEGRAM_ALLOWED_USER_IDS")
    assert config.load().telegram.buttons is True
