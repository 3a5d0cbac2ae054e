"""Ports for local servers: chosen where no outgoing connection can take them, and a probe that
reached only itself does not count as a listener."""

from __future__ import annotations

import socket

from tools.devservers.ports import (
    _ephemeral_start,
    connected_to_itself,
    free_port,
    free_port_run,
    port_accepts,
)


def test_free_ports_lie_below_the_ephemeral_range() -> None:
    start = _ephemeral_start()
    for _ in range(50):
        assert free_port() < start
        base = free_port_run(4)
        assert base + 4 <= start


def test_a_socket_connected_to_itself_is_recognised() -> None:
    # Bound to a port and connecting to that same port with nobody listening: Linux completes
    # a simultaneous open with itself, which is what a readiness probe hit in CI.
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.connect(("127.0.0.1", port))
        assert connected_to_itself(sock)


def test_a_real_listener_is_not_mistaken_for_a_self_connection() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_accepts(port)
        with socket.create_connection(("127.0.0.1", port)) as client:
            assert not connected_to_itself(client)


def test_a_process_never_hands_out_one_port_twice_in_a_row() -> None:
    handed: list[int] = []
    for _ in range(300):
        base = free_port_run(4)
        handed.extend(range(base, base + 4))
        handed.append(free_port())
    assert len(handed) == len(set(handed))
