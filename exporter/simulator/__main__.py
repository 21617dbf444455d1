"""``python -m exporter.simulator``: the D75 simulator with the exporter's /metrics.

    python -m exporter.simulator --list
    python -m exporter.simulator --scenario demo [--port 9108] [--speed 10]

While it runs, ``POST /scenario/<name>`` starts another scenario and ``GET /scenario`` shows
the one playing, so tests and demos can enter and leave conditions on cue.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from d76config import ConfigError
from d76secrets import install_log_redaction
from exporter import config
from exporter.facade import D75Exporter
from exporter.simulator.player import Player
from exporter.simulator.scenarios import SCENARIOS

StartResponse = Callable[..., Any]


class ThreadingServer(ThreadingMixIn, WSGIServer):
    """A WSGI server with one daemon thread per request."""

    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    """A request handler that does not log each request."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [data]


def make_app(registry: CollectorRegistry, player: Player) -> Callable[..., Iterable[bytes]]:
    """The simulator's WSGI app: ``/metrics`` from ``registry``, ``/scenario`` drives ``player``."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path == "/scenario" and method == "GET":
            return _json(start_response, "200 OK", {"playing": player.current})
        if path.startswith("/scenario/") and method == "POST":
            name = path.removeprefix("/scenario/")
            if name not in SCENARIOS:
                return _json(
                    start_response,
                    "404 Not Found",
                    {"error": {"code": "unknown_scenario", "message": name}},
                )
            player.play(name)
            return _json(start_response, "202 Accepted", {"playing": name})
        return _json(
            start_response,
            "404 Not Found",
            {"error": {"code": "not_found", "message": "try /metrics or /scenario"}},
        )

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exporter.simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", default="calm", help="scenario to play first")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--port", type=int, help="listen port (default: config, EXPORTER_PORT)")
    parser.add_argument("--speed", type=float, default=1.0, help="time compression factor")
    args = parser.parse_args(argv)

    if args.list:
        width = max(len(name) for name in SCENARIOS)
        for name, scenario in SCENARIOS.items():
            print(f"{name:<{width}}  {scenario.summary}")
        return 0
    if args.scenario not in SCENARIOS:
        print(f"unknown scenario {args.scenario!r}; see --list", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        settings = config.load()
    except ConfigError as exc:
        print(f"d76 exporter: {exc}", file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    d75 = D75Exporter(settings, registry)
    player = Player(d75, speed=args.speed)
    port = args.port or settings.listen.port
    server = make_server(
        settings.listen.host,
        port,
        make_app(registry, player),
        server_class=ThreadingServer,
        handler_class=QuietHandler,
    )
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    base = SCENARIOS["calm"].steps[0]
    player.apply(base)  # every scenario starts from a healthy engine
    player.play(args.scenario)
    logging.getLogger("d76.simulator").info(
        "serving http://%s:%s/metrics, playing %s", settings.listen.host, port, args.scenario
    )
    server.serve_forever(poll_interval=0.2)
    player.stop()
    d75.close(timeout=2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
