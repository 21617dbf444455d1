"""D75 installs the exporter alone: in a fresh virtualenv, ``pip install <this repository>``
without extras gives a working exporter from the installed wheel, and none of the receiver's
packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _checkout() -> Path:
    for directory in Path(__file__).resolve().parents:
        if (directory / "pyproject.toml").is_file():
            return directory
    raise AssertionError(f"no pyproject.toml above {__file__}")


CHECKOUT = _checkout()
# What a fresh clone does not have: setuptools builds in <source>/build/ and packs whatever is
# there, so a stale build/ would ship modules that the packaging config no longer lists.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".d76", "build", "dist", "*.egg-info", "__pycache__", ".*_cache"
)
RECEIVER_ONLY = ("flask", "psycopg2", "telegram", "gunicorn", "yoyo", "markdown_it")

# What D75 does: create the facade, call a hook, serve the registry's text.
SCRIPT = textwrap.dedent(
    f"""
    import importlib.util
    import sys

    from prometheus_client import CollectorRegistry, generate_latest

    import exporter
    from exporter import D75Exporter
    from exporter.config import ExporterSettings

    assert exporter.__file__.startswith(sys.prefix), exporter.__file__  # the wheel, not the tree
    registry = CollectorRegistry()
    d75 = D75Exporter(ExporterSettings(exchanges=("Upbit", "Binance")), registry)
    d75.exchange_health.set_status("Upbit", "DOWN")
    d75.risk_guard.set_global_daily_loss(55_000)
    d75.close(timeout=1)
    configured = D75Exporter.from_config(CollectorRegistry())  # D76_CONFIG_DIR
    configured.close(timeout=1)
    print("from_config exchanges:", ",".join(configured.settings.exchanges))
    print(generate_latest(registry).decode())
    present = [name for name in {RECEIVER_ONLY!r} if importlib.util.find_spec(name) is not None]
    assert not present, f"receiver packages installed with the exporter: {{present}}"
    assert "receiver" not in sys.modules
    print("no receiver packages")
    """
)


@pytest.mark.timeout(600)
def test_the_exporter_installs_and_works_without_the_receiver(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(CHECKOUT, source, ignore=NOT_SOURCE)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") and not k.startswith("D76_")
    }
    env["PIP_NO_INPUT"] = "1"
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")

    def run(what: str, *args: str, timeout: float) -> str:
        done = subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"{what} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run("venv", sys.executable, "-m", "venv", str(venv), timeout=60)
    # The index and cache are pip's usual ones (its config and PIP_* variables).
    run("pip install", python, "-m", "pip", "install", "--quiet", str(source), timeout=300)

    env["D76_CONFIG_DIR"] = str(CHECKOUT / "config")
    # -I: neither the working directory nor PYTHON* variables reach sys.path.
    out = run("the D75 script", python, "-I", "-c", SCRIPT, timeout=60)
    assert 'd75_exchange_health_status{exchange="Upbit",status="DOWN"} 1.0' in out
    assert "d75_riskguard_global_daily_loss_usd 55000.0" in out
    assert "from_config exchanges: Upbit," in out  # config/exporter.yml was read
    assert "no receiver packages" in out

    # The simulator's old command name, which runs the new one, is in the wheel too.
    listed = run("exporter.simulate", python, "-I", "-m", "exporter.simulate", "--list", timeout=60)
    assert listed.startswith("calm ")
