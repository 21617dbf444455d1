"""``python -m stack run``: start the whole stack on 127.0.0.1 until Ctrl-C.
``python -m stack reload``: apply edited rules, alertmanager.yml, config/maintenance.yml and the
message templates (config/templates/) to the running stack; checked first, and an edit that
fails a check changes nothing.

``python -m stack run --ha``: the same with two clustered Alertmanagers, two receivers and two
dispatchers sharing one PostgreSQL.

Environment: PROMETHEUS_PORT, ALERTMANAGER_PORT, RECEIVER_PORT, EXPORTER_PORT, POSTGRES_PORT,
ALERTMANAGER_PORT_2, RECEIVER_PORT_2, ALERTMANAGER_CLUSTER_PORT(_2) (with --ha),
EXPORTER_PORT_2 (with --engines 2: a second simulated D75 engine, engine label d75-2),
DATABASE_URL (use it instead of the private cluster), D76_DEMO (0: no simulator),
D76_STATE_DIR (default .d76 in the checkout).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from d76secrets import install_log_redaction
from stack.procs import RestartPolicy, StartupError
from stack.render import REPO, Ports
from stack.stack import Stack, StackConfig

BOLD, RESET = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")


def _port(var: str, default: int) -> int:
    value = os.environ.get(var, "")
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"{var}: must be a port number (1-65535), got {value!r}")
    return int(value)


def config_from_env(*, ha: bool = False, engines: int = 1) -> StackConfig:
    state_dir = Path(os.environ.get("D76_STATE_DIR") or REPO / ".d76").resolve()
    ports = Ports(
        prometheus=_port("PROMETHEUS_PORT", 9090),
        alertmanager=_port("ALERTMANAGER_PORT", 9093),
        receiver=_port("RECEIVER_PORT", 9095),
        exporter=_port("EXPORTER_PORT", 9108),
        postgres=_port("POSTGRES_PORT", 55432),
        alertmanager2=_port("ALERTMANAGER_PORT_2", 9193),
        receiver2=_port("RECEIVER_PORT_2", 9195),
        cluster=_port("ALERTMANAGER_CLUSTER_PORT", 9094),
        cluster2=_port("ALERTMANAGER_CLUSTER_PORT_2", 9194),
        exporter2=_port("EXPORTER_PORT_2", 9109),
    )
    demo = os.environ.get("D76_DEMO", "1").strip().lower() not in ("0", "false", "no", "off")
    return StackConfig(
        state_dir=state_dir,
        ports=ports,
        demo=demo,
        database_url=os.environ.get("DATABASE_URL") or None,
        echo=True,
        alertmanager_ui=state_dir / "alertmanager-ui",
        ha=ha,
        engines=engines,
    )


def _say(text: str) -> None:
    print(f"{BOLD}==> {text}{RESET}", flush=True)


def run(*, ha: bool = False, engines: int = 1) -> int:
    config = config_from_env(ha=ha, engines=engines)
    stack = Stack(config, progress=_say)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        stack.start()
    except StartupError as exc:
        print(f"\nd76: start-up failed: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    if stop.is_set():
        stack.stop()
        return 0
    width = max(len(name) for name in stack.urls)
    print(f"\n{BOLD}d76-alerting is up{RESET} (logs in {stack.logs}):")
    for name, url in stack.urls.items():
        print(f"  {name:<{width}}  {url}")
    if not os.environ.get("TELEGRAM_BOT_TOKEN"):
        print("  (no TELEGRAM_BOT_TOKEN: messages are printed below and recorded as unsent)")
    if config.demo:
        print("  The demo scenario raises a P0 GlobalGuard alert about 10 s from now.")
    print(f"  History: psql {stack.database_url} -c 'TABLE alert_history'")
    print("Press Ctrl-C to stop.\n", flush=True)
    restarts = RestartPolicy()
    for name in stack.processes:
        restarts.started(name, time.monotonic())
    while not stop.wait(1.0):
        now = time.monotonic()
        for name in stack.dead():
            proc = stack.processes[name]
            if restarts.due(name, now):
                print(f"d76: restarting {name}", file=sys.stderr, flush=True)
                proc.start()
                restarts.started(name, now)
                continue
            announced = restarts.waiting(name)
            delay = restarts.exited(name, now)
            if not announced:
                code = proc.proc.returncode if proc.proc is not None else None
                print(
                    f"\nd76: {name} exited unexpectedly (code {code}); restarting it in "
                    f"{delay:.0f}s. Log tail:\n{proc.tail()}",
                    file=sys.stderr,
                    flush=True,
                )
    _say("stopping")
    stack.stop()
    _say("stopped")
    return 0


def reload() -> int:
    """Apply edited rules, alertmanager.yml, maintenance windows and message templates to the
    running stack, without a restart."""
    stack = Stack(config_from_env(), progress=_say)
    try:
        stack.reload()
    except StartupError as exc:
        print(f"d76: reload failed: {exc}", file=sys.stderr)
        return 1
    _say("Prometheus and Alertmanager reloaded their configuration")
    return 0


def check() -> int:
    """amtool check-config of alertmanager.yml as it will run: with config/maintenance.yml's
    windows rendered in (what `make reload` applies)."""
    import shutil
    import subprocess
    import tempfile

    import d76maintenance
    from d76config import ConfigError
    from stack.render import Ports, alertmanager_config

    try:
        maintenance = d76maintenance.load()
    except ConfigError as exc:
        print(f"d76: {exc}", file=sys.stderr)
        return 1
    amtool = shutil.which("amtool")
    if amtool is None:
        print("d76: amtool is not installed (make system)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        rendered = alertmanager_config(
            Path(scratch) / "alertmanager.yml", Ports(), maintenance=maintenance
        )
        result = subprocess.run([amtool, "check-config", str(rendered)], check=False)
    _say(f"{len(maintenance.windows)} maintenance window(s) rendered and checked")
    return result.returncode


def _run(args: argparse.Namespace) -> int:
    return run(ha=args.ha, engines=args.engines)


# Every command, one row: (help, what it runs). Both accept the same flags, as before.
COMMANDS: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
    "run": ("start the whole stack on 127.0.0.1 until Ctrl-C", _run),
    "reload": (
        "apply edited rules, alertmanager.yml, maintenance windows and message templates",
        lambda a: reload(),
    ),
    "check": ("amtool check of alertmanager.yml with the maintenance windows", lambda a: check()),
}


def main(argv: list[str] | None = None) -> int:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument(
        "--ha",
        action="store_true",
        help="the highly available pair: two Alertmanagers, receivers, dispatchers",
    )
    flags.add_argument(
        "--engines",
        type=int,
        choices=[1, 2],
        default=1,
        help="simulated D75 engines (2: a second one on EXPORTER_PORT_2, engine label d75-2)",
    )
    parser = argparse.ArgumentParser(
        prog="python -m stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, _) in COMMANDS.items():
        sub.add_parser(name, help=help_text, parents=[flags])
    args = parser.parse_args(argv)
    install_log_redaction()  # the console echoes the receiver's and dispatcher's output
    return COMMANDS[args.command][1](args)


if __name__ == "__main__":
    sys.exit(main())
