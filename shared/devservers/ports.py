"""Loopback ports for local servers."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
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


def free_port_run(length: int) -> int:
    """A base port with `length` free ports after it (for services numbered from a base)."""
    for _ in range(50):
        base = free_port()
        if base + length < 65535 and all(_is_free(base + i) for i in range(length)):
            return base
    raise RuntimeError(f"no run of {length} free ports found")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
