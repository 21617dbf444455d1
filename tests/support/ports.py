"""Free ports for the servers the tests start, each handed out once per session."""

from __future__ import annotations

import os
import random
import socket

from stack.render import Ports

# Ports come from below the kernel's ephemeral range (32768-60999 by default): a port taken
# from that range can be grabbed by any outgoing connection between the check and the
# server's bind.
_FULL_RANGE = (20000, 32000)


def _worker_range() -> tuple[int, int]:
    """Each pytest-xdist worker (gw0, gw1, ...) draws from its own slice of the range, so two
    workers never hand out the same port between one's check and its server's bind."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker) if worker.isdigit() else 0
    low, high = _FULL_RANGE
    size = (high - low) // max(count, 1)
    return low + index * size, low + (index + 1) * size - 1


_PORT_RANGE = _worker_range()
_handed_out: set[int] = set()
_ports = random.Random(os.getpid())


def free_port() -> int:
    for _ in range(500):
        port = _ports.randint(*_PORT_RANGE)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORT_RANGE}")


def free_ports() -> Ports:
    """A port for every server of the stack (``make run`` and ``make run-ha``)."""
    return Ports(
        prometheus=free_port(),
        alertmanager=free_port(),
        receiver=free_port(),
        exporter=free_port(),
        postgres=free_port(),
        alertmanager2=free_port(),
        receiver2=free_port(),
        cluster=free_port(),
        cluster2=free_port(),
        exporter2=free_port(),
    )
