"""Loopback ports for local servers.

Ports are chosen below the kernel's ephemeral range. A port inside it can be taken at any
moment by an outgoing connection, and a probe that connects to a port nobody listens on yet can
be given that very port as its own source: the socket then connects to itself (TCP
simultaneous open), reads back its own request and looks like a server that answered. A CI run
failed that way (`BadStatusLine: GET /readyz HTTP/1.1`).
"""

from __future__ import annotations

import random
import socket
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Below this, ports tend to belong to well-known servers (Postgres 5432, NATS 4222, ...).
_LOWEST_CHOSEN = 10000
# Not the module-level random: tests seed that one (Hypothesis does), and two picks from a
# seeded sequence can coincide.
_PICK = random.SystemRandom()
# Ports this process handed out lately. A port is free until its server binds it, so two picks
# in a row (a Postgres port, then a run of metrics ports) could name the same one: it happened.
_HANDED_OUT: deque[int] = deque(maxlen=2048)


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default start


def free_port() -> int:
    """A loopback port free now and outside the ephemeral range."""
    return free_port_run(1)


def free_port_run(length: int) -> int:
    """A base port with `length` free ports from it (for services numbered from a base)."""
    highest_base = _ephemeral_start() - length
    for _ in range(200):
        base = _PICK.randint(_LOWEST_CHOSEN, highest_base)
        run = range(base, base + length)
        if not any(port in _HANDED_OUT for port in run) and all(map(_is_free, run)):
            _HANDED_OUT.extend(run)
            return base
    raise RuntimeError(f"no run of {length} free ports found below the ephemeral range")


def connected_to_itself(sock: socket.socket) -> bool:
    """Whether a connect reached no listener but the socket itself (see the module's note)."""
    return bool(sock.getsockname() == sock.getpeername())


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            return not connected_to_itself(sock)
    except OSError:
        return False


def wait_for_port(
    port: int, timeout: float, what: str, exited: Callable[[], int | None] | None = None
) -> None:
    """Until something accepts on `port`; a server that `exited` meanwhile fails at once, not
    after the whole timeout (a supervisor restarting it would be stuck that long)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_accepts(port):
            return
        if exited is not None and (code := exited()) is not None:
            raise TimeoutError(f"{what} exited with {code} before accepting connections")
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not accept connections on port {port} within {timeout:.0f}s")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
