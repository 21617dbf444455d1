"""docker-compose.yml cannot run here (no Docker engine): check that it is whole instead."""

from __future__ import annotations

import re

import yaml

from tests.support import REPO

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
        "alertmanager-2",  # the ha profile: make run-ha's second half
        "receiver-2",
        "dispatcher-2",
    }
    for name in ("alertmanager-2", "receiver-2", "dispatcher-2"):
        assert SERVICES[name]["profiles"] == ["ha"]
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:")
    assert SERVICES["alertmanager"]["image"].startswith("prom/alertmanager:")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    for name in ("receiver", "dispatcher", "exporter"):
        assert SERVICES[name]["build"] == "."


def test_every_mounted_file_exists() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", volume).split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"


def test_the_default_ports_match_the_config_files() -> None:
    prometheus = " ".join(SERVICES["prometheus"]["command"])
    alertmanager = " ".join(SERVICES["alertmanager"]["command"])
    assert "127.0.0.1:9090" in prometheus
    assert "127.0.0.1:9093" in alertmanager
    assert "--cluster.listen-address=127.0.0.1:9094" in SERVICES["alertmanager"]["command"]
    assert "--cluster.peer=127.0.0.1:9094" in SERVICES["alertmanager-2"]["command"]
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


def test_the_ha_files_differ_from_the_single_ones_only_in_the_second_half() -> None:
    single = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    ha = yaml.safe_load((REPO / "prometheus" / "prometheus-ha.yml").read_text())
    for group in ha["alerting"]["alertmanagers"]:
        for block in group["static_configs"]:
            block["targets"] = [t for t in block["targets"] if t != "127.0.0.1:9193"]
    for job in ha["scrape_configs"]:
        for block in job["static_configs"]:
            block["targets"] = [
                t for t in block["targets"] if t not in ("127.0.0.1:9193", "127.0.0.1:9195")
            ]
    assert ha == single
    am = (REPO / "alertmanager" / "alertmanager.yml").read_text()
    am2 = (REPO / "alertmanager" / "alertmanager-2.yml").read_text()
    assert yaml.safe_load(am2.replace("127.0.0.1:9195", "127.0.0.1:9095")) == yaml.safe_load(am)
