"""The whole pipeline as child processes: PostgreSQL, receiver, dispatcher, the D75 simulator
with its exporter, Alertmanager and Prometheus, started in dependency order.

Longer than the house's usual module: ``Stack`` is one process tree, and keeping how each
child is configured, started and checked beside the others lets ``start()`` read top to bottom
in the order the processes come up.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import d76maintenance
from d76config import ConfigError
from d76secrets import Redactor, private_dir, secret_values, write_private
from stack import render
from stack.postgres import PrivatePostgres
from stack.procs import ManagedProcess, StartupError, http_ok, running_pid
from stack.render import Ports

PYTHON = sys.executable
READY_TIMEOUT = 60.0
DISPATCHERS = ("dispatcher", "dispatcher-2")  # they lay messages out: a reload tells them


@dataclass
class StackConfig:
    state_dir: Path
    ports: Ports = field(default_factory=Ports)
    demo: bool = True  # start the D75 simulator (and its exporter)
    scenario: str = "demo"
    speed: float = 1.0
    database_url: str | None = None  # an existing database instead of the private cluster
    fast_timers: bool = False  # tests: shorten Alertmanager's grouping timers
    echo: bool = False  # copy receiver and dispatcher output to the console
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment for our processes
    alertmanager_ui: Path | None = None  # directory holding static/index.html
    ha: bool = False  # two clustered Alertmanagers, two receivers, two dispatchers
    prometheus_dir: Path = render.PROMETHEUS_DIR  # prometheus.yml and rules/ to run
    alertmanager_dir: Path = render.ALERTMANAGER_DIR  # alertmanager.yml to run
    engines: int = 1  # D75 engines to simulate (2: a second simulator on ports.exporter2)


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class Stack:
    def __init__(self, config: StackConfig, progress: Callable[[str], None] = print) -> None:
        self.config = config
        self.progress = progress
        self.processes: dict[str, ManagedProcess] = {}
        self.postgres: PrivatePostgres | None = None
        self.database_url = config.database_url or ""
        self.logs = config.state_dir / "logs"
        self._redact = Redactor(secret_values({**os.environ, **config.env}))

    # -- addresses ---------------------------------------------------------------------------

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self.config.ports, name)}"

    @property
    def urls(self) -> dict[str, str]:
        urls = {
            "Prometheus alerts": f"{self.url('prometheus')}/classic/alerts",
            "Alertmanager UI": f"{self.url('alertmanager')}/#/alerts",
            "Alertmanager silences": f"{self.url('alertmanager')}/#/silences",
            "Alert history": f"{self.url('receiver')}/history",
            "Receiver metrics": f"{self.url('receiver')}/metrics",
        }
        if self.config.ha:
            urls["Alertmanager UI (second)"] = f"{self.url('alertmanager2')}/#/alerts"
            urls["Alert history (second)"] = f"{self.url('receiver2')}/history"
        if self.config.demo:
            urls["D75 exporter metrics"] = f"{self.url('exporter')}/metrics"
            if self.config.engines > 1:
                urls["D75 exporter metrics (second engine)"] = f"{self.url('exporter2')}/metrics"
        return urls

    # -- start -------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.config.env)
        env["DATABASE_URL"] = self.database_url
        env["RECEIVER_PORT"] = str(self.config.ports.receiver)
        env["EXPORTER_PORT"] = str(self.config.ports.exporter)
        urls = [self.url("alertmanager")] + ([self.url("alertmanager2")] if self.config.ha else [])
        env["ALERTMANAGER_URLS"] = ",".join(urls)  # send_alert() from the simulator: every one
        env["ALERTMANAGER_URL"] = self.url("alertmanager")  # Silence pressed in Telegram
        env["PROMETHEUS_URL"] = self.url("prometheus")  # named by the dead man's switch
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(
        self,
        name: str,
        argv: list[str],
        ready: Callable[[], bool],
        *,
        echo: bool = False,
        env: Mapping[str, str] | None = None,
        redact_output: bool = False,
    ) -> ManagedProcess:
        pid_file = self._pid_file(name) if name in DISPATCHERS else None
        proc = ManagedProcess(
            name,
            argv,
            self.logs / f"{name}.log",
            env={**self._env(), **(env or {})},
            echo=echo,
            # Only for programs that do not redact their own output (Alertmanager, Prometheus):
            # the Python components redact in-process, as they must without this supervisor.
            redact=self._redact if redact_output else None,
            pid_file=pid_file,
        )
        self.processes[name] = proc
        proc.start()
        proc.wait_ready(ready, READY_TIMEOUT)
        return proc

    def _check_ports(self) -> None:
        ports = self.config.ports
        wanted = {
            "PROMETHEUS_PORT": ports.prometheus,
            "ALERTMANAGER_PORT": ports.alertmanager,
            "RECEIVER_PORT": ports.receiver,
        }
        if self.config.demo:
            wanted["EXPORTER_PORT"] = ports.exporter
            if self.config.engines > 1:
                wanted["EXPORTER_PORT_2"] = ports.exporter2
        if self.config.ha:
            wanted.update(
                ALERTMANAGER_PORT_2=ports.alertmanager2,
                RECEIVER_PORT_2=ports.receiver2,
                ALERTMANAGER_CLUSTER_PORT=ports.cluster,
                ALERTMANAGER_CLUSTER_PORT_2=ports.cluster2,
            )
        if not self.config.database_url:
            wanted["POSTGRES_PORT"] = ports.postgres
        busy = [f"{port} ({var})" for var, port in wanted.items() if port_in_use(port)]
        if busy:
            raise StartupError(
                "port(s) already in use on 127.0.0.1: "
                + ", ".join(busy)
                + ". Is another stack running? Stop it, or choose other ports with those variables."
            )

    def start(self) -> None:
        cfg = self.config
        self._check_ports()
        # Only its owner may read the state: logs, the rendered configs with their tokens, the
        # database. As root, the private PostgreSQL runs as the `postgres` user, which must be
        # able to pass through (0711: enter, not list) to reach its own 0700 data directory.
        private_dir(cfg.state_dir, 0o711 if os.geteuid() == 0 and not cfg.database_url else 0o700)
        private_dir(self.logs)
        if not cfg.database_url:
            self._start_postgres()
        self.progress("applying database migrations")
        result = subprocess.run(
            [PYTHON, "-m", "receiver", "migrate"],
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StartupError(f"migrations failed:\n{result.stderr.strip()}")

        self.progress(f"starting receiver on {self.url('receiver')}")
        self._spawn(
            "receiver",
            [PYTHON, "-m", "receiver", "serve"],
            http_ok(f"{self.url('receiver')}/readyz"),
            echo=cfg.echo,
        )
        self.progress("starting dispatcher")
        self._spawn(
            "dispatcher",
            [PYTHON, "-m", "receiver", "dispatch"],
            self._log_says("dispatcher", "dispatcher started"),
            echo=cfg.echo,
        )
        if cfg.ha:
            self.progress(f"starting the second receiver on {self.url('receiver2')}")
            self._spawn(
                "receiver-2",
                [PYTHON, "-m", "receiver", "serve"],
                http_ok(f"{self.url('receiver2')}/readyz"),
                env={"RECEIVER_PORT": str(cfg.ports.receiver2)},
            )
            self.progress("starting the second dispatcher")
            self._spawn(
                "dispatcher-2",
                [PYTHON, "-m", "receiver", "dispatch"],
                self._log_says("dispatcher-2", "dispatcher started"),
            )
        if cfg.demo:
            self.progress(
                f"starting D75 simulator (scenario {cfg.scenario}) on {self.url('exporter')}"
            )
            self._spawn(
                "exporter",
                [
                    PYTHON,
                    "-m",
                    "exporter.simulator",
                    "--scenario",
                    cfg.scenario,
                    "--port",
                    str(cfg.ports.exporter),
                    "--speed",
                    str(cfg.speed),
                ],
                http_ok(f"{self.url('exporter')}/metrics"),
            )
            if cfg.engines > 1:
                self.progress(f"starting the second D75 engine on {self.url('exporter2')}")
                self._spawn(
                    "exporter-2",
                    [
                        PYTHON,
                        "-m",
                        "exporter.simulator",
                        "--scenario",
                        "calm",
                        "--port",
                        str(cfg.ports.exporter2),
                        "--speed",
                        str(cfg.speed),
                    ],
                    http_ok(f"{self.url('exporter2')}/metrics"),
                    env={"EXPORTER_PORT": str(cfg.ports.exporter2)},
                )
        self._start_alertmanager(1)
        if cfg.ha:
            self._start_alertmanager(2)
        self._start_prometheus()

    def _log_says(self, name: str, text: str) -> Callable[[], bool]:
        def check() -> bool:
            return text in self.processes[name].tail(200)

        return check

    def _start_postgres(self) -> None:
        cfg = self.config
        pg = PrivatePostgres(
            cfg.state_dir / "postgres", cfg.ports.postgres, self.logs / "postgres.log"
        )
        if pg.initialize():
            self.progress(f"initialised a PostgreSQL cluster in {pg.data_dir}")
        self.progress(f"starting PostgreSQL on 127.0.0.1:{cfg.ports.postgres}")
        proc = pg.process()
        self.processes["postgres"] = proc
        proc.start()
        proc.wait_ready(pg.accepting, READY_TIMEOUT)
        pg.create_database()
        self.postgres = pg
        self.database_url = pg.url

    def _render_alertmanager(self, index: int = 1) -> Path:
        cfg = self.config
        # The second Alertmanager delivers to the second receiver.
        ports = (
            cfg.ports
            if index == 1
            else dataclasses.replace(cfg.ports, receiver=cfg.ports.receiver2)
        )
        folder = "alertmanager" if index == 1 else f"alertmanager-{index}"
        token = cfg.env.get("RECEIVER_WEBHOOK_TOKEN") or os.environ.get("RECEIVER_WEBHOOK_TOKEN")
        token_file = None
        if token:
            token_file = write_private(cfg.state_dir / "alertmanager" / "webhook-token", token)
        env = {**os.environ, **cfg.env}
        fallback = None
        if env.get("TELEGRAM_BOT_TOKEN") and env.get("TELEGRAM_CHAT_ID", "").lstrip("-").isdigit():
            fallback = render.TelegramFallback(
                env["TELEGRAM_BOT_TOKEN"],
                env["TELEGRAM_CHAT_ID"],
                env.get("TELEGRAM_API_URL") or "https://api.telegram.org",
            )
        return render.alertmanager_config(
            cfg.state_dir / folder / "alertmanager.yml",
            ports,
            token_file=token_file,
            fast_timers=cfg.fast_timers,
            source=cfg.alertmanager_dir / "alertmanager.yml",
            telegram=fallback,
            maintenance=self._maintenance(),
        )

    def _maintenance(self) -> d76maintenance.Maintenance:
        """config/maintenance.yml (of D76_CONFIG_DIR); an invalid file stops a start or a reload."""
        directory = self.config.env.get("D76_CONFIG_DIR") or os.environ.get("D76_CONFIG_DIR")
        path = Path(directory) / "maintenance.yml" if directory else None
        try:
            return d76maintenance.load(path)
        except ConfigError as exc:
            raise StartupError(str(exc)) from None

    @staticmethod
    def _check_with_amtool(config_file: Path) -> None:
        """amtool check-config, when amtool is installed: a reload never sends Alertmanager a
        file amtool refuses."""
        amtool = shutil.which("amtool")
        if amtool is None:
            return
        result = subprocess.run(
            [amtool, "check-config", str(config_file)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise StartupError(f"amtool refused {config_file}:\n{result.stdout}{result.stderr}")

    def _render_prometheus(self) -> Path:
        cfg = self.config
        return render.prometheus_config(
            cfg.state_dir / "prometheus" / "prometheus.yml",
            cfg.ports,
            source=cfg.prometheus_dir / "prometheus.yml",
            ha=cfg.ha,
            engines=cfg.engines if cfg.demo else 1,
        )

    def _pid_file(self, name: str) -> Path:
        return self.config.state_dir / "run" / f"{name}.pid"

    def _check_receiver(self) -> None:
        """``python -m receiver check`` with the stack's environment: the settings and the
        message templates, as the receiver and the dispatcher would read them now."""
        result = subprocess.run(
            [PYTHON, "-m", "receiver", "check"],
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            said = [line for line in result.stderr.splitlines() if line.startswith("d76 receiver:")]
            detail = "\n".join(said) or result.stderr.strip()
            raise StartupError(
                f"receiver refused the new configuration: {detail.removeprefix('d76 receiver: ')}"
            )

    def _tell_dispatchers(self) -> None:
        """SIGHUP to every running dispatcher: it reads its message templates again (and keeps
        the ones in use if the new ones fail its own check)."""
        told = []
        for name in DISPATCHERS:
            pid = running_pid(self._pid_file(name), "receiver", "dispatch")
            if pid is not None:
                os.kill(pid, signal.SIGHUP)
                told.append(name)
        if told:
            self.progress(f"asked {' and '.join(told)} to read the message templates again")
        else:
            self.progress("no dispatcher running: the templates apply when one starts")

    def reload(self) -> None:
        """Check the receiver's settings and message templates, re-render both configurations
        and ask Prometheus and Alertmanager to reload them, then the dispatchers their
        templates.

        Raises StartupError naming the component whose reload failed (its configuration is
        invalid: the running one stays in force). Templates that fail the check stop the reload
        before anything is applied.
        """
        self._check_receiver()
        self._check_with_amtool(self._render_alertmanager(1))
        names = ["alertmanager", "prometheus"]
        if self.config.ha:
            self._check_with_amtool(self._render_alertmanager(2))
            names.insert(1, "alertmanager2")
        self._render_prometheus()
        for name in names:
            request = urllib.request.Request(f"{self.url(name)}/-/reload", method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30):
                    pass
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace").strip()
                raise StartupError(f"{name} refused the new configuration: {detail}") from None
            except OSError as exc:
                raise StartupError(f"{name} not reachable at {self.url(name)}: {exc}") from None
        self._tell_dispatchers()

    def _start_alertmanager(self, index: int) -> None:
        cfg = self.config
        config_file = self._render_alertmanager(index)
        port_name = "alertmanager" if index == 1 else f"alertmanager{index}"
        folder = "alertmanager" if index == 1 else f"alertmanager-{index}"
        url = self.url(port_name)
        argv = [
            "prometheus-alertmanager",
            f"--config.file={config_file}",
            f"--storage.path={cfg.state_dir / folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{getattr(cfg.ports, port_name)}",
            f"--web.external-url={url}/",
        ]
        if cfg.ha:  # a gossip cluster of two: notifications are deduplicated between them
            mine, peer = (
                (cfg.ports.cluster, cfg.ports.cluster2)
                if index == 1
                else (cfg.ports.cluster2, cfg.ports.cluster)
            )
            argv += [
                f"--cluster.listen-address=127.0.0.1:{mine}",
                f"--cluster.peer=127.0.0.1:{peer}",
            ]
            if cfg.fast_timers:
                argv.append("--cluster.peer-timeout=2s")  # the second waits this long per place
        else:
            argv.append("--cluster.listen-address=")
        if cfg.alertmanager_ui and (cfg.alertmanager_ui / "static" / "index.html").is_file():
            argv.append(f"--web.ui-path={cfg.alertmanager_ui / 'static'}/")
        self.progress(f"starting Alertmanager on {url}")
        self._spawn(folder, argv, http_ok(f"{url}/-/ready"), redact_output=True)

    def _start_prometheus(self) -> None:
        cfg = self.config
        config_file = self._render_prometheus()
        url = self.url("prometheus")
        argv = [
            "prometheus",
            f"--config.file={config_file}",
            f"--storage.tsdb.path={cfg.state_dir / 'prometheus' / 'data'}",
            f"--web.listen-address=127.0.0.1:{cfg.ports.prometheus}",
            f"--web.external-url={url}/",
            "--web.enable-lifecycle",  # POST /-/reload after editing rules
            # Firing alerts are re-sent this often and expire in Alertmanager after 4 times
            # it: a dead Prometheus shows as a resolved Watchdog within a minute (2 s in tests).
            f"--rules.alert.resend-delay={'2s' if cfg.fast_timers else '15s'}",
        ]
        self.progress(f"starting Prometheus on {url}")
        proc = self._spawn("prometheus", argv, http_ok(f"{url}/-/ready"), redact_output=True)
        # Prometheus applies new scrape targets on a 5 s tick: wait until data flows, so that
        # "up" means alerts can fire now.
        self.progress("waiting for Prometheus' first scrape and its Alertmanager")
        proc.wait_ready(self._prometheus_wired, READY_TIMEOUT)

    def _prometheus_wired(self) -> bool:
        url = self.url("prometheus")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/alertmanagers", timeout=1) as response:
                if not json.load(response)["data"]["activeAlertmanagers"]:
                    return False
            if not self.config.demo:
                return True
            with urllib.request.urlopen(f"{url}/api/v1/targets?state=active", timeout=1) as r:
                targets = json.load(r)["data"]["activeTargets"]
        except (OSError, ValueError, KeyError):
            return False
        up = [t for t in targets if t["labels"].get("job") == "d75" and t["health"] == "up"]
        return len(up) >= self.config.engines

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.processes[name].stop()
        self.processes.clear()

    def dead(self) -> list[str]:
        return [name for name, proc in self.processes.items() if not proc.running]
