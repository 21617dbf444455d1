"""docker-compose.yml cannot run here (no Docker engine): check that it is whole instead."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_component_of_make_run_is_a_service() -> None:
    assert set(SERVICES) == {
        "postgres",
        "receiver",
        "dispatcher",
        "exporter",
        "alertmanager",
        "prometheus",
    }
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:")
    assert SERVICES["alertmanager"]["image"].startswith("prom/alertmanager:")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    for name in ("receiver", "dispatcher", "exporter"):
        assert SERVICES[name]["build"] == "."


def test_every_mounted_file_exists() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_the_default_ports_match_the_config_files() -> None:
    prometheus = " ".join(SERVICES["prometheus"]["command"])
    alertmanager = " ".join(SERVICES["alertmanager"]["command"])
    assert "127.0.0.1:9090" in prometheus
    assert "127.0.0.1:9093" in alertmanager
    assert "--cluster.listen-address=" in SERVICES["alertmanager"]["command"]
    prom_config = (REPO / "prometheus" / "prometheus.yml").read_text()
    assert "127.0.0.1:9093" in prom_config and "127.0.0.1:9108" in prom_config
    assert "127.0.0.1:9095" in (REPO / "alertmanager" / "alertmanager.yml").read_text()


def test_no_secret_is_written_into_the_file() -> None:
    env = SERVICES["receiver"]["environment"]
    for key in ("TELEGRAM_BOT_TOKEN", "RECEIVER_WEBHOOK_TOKEN"):
        assert re.fullmatch(r"\$\{" + key + r":-\}", env[key]), env[key]
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]


def test_the_dockerfile_copies_what_exists() -> None:
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
