"""`baton up` on a clean data folder: real servers from pip, four ready services, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from shared.devservers.nats import nats_server_binary
from shared.devservers.ports import free_port
from shared.devservers.postgres import postgres_bin_dir

pytestmark = pytest.mark.acceptance


def _free_port_run(length: int) -> int:
    """A base port with `length` free ports after it."""
    for _ in range(50):
        base = free_port()
        if base + length < 65535 and all(_is_free(base + i) for i in range(length)):
            return base
    raise RuntimeError("no run of free ports")


def _is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def _listener_exe(port: int) -> Path:
    for conn in psutil.net_connections(kind="tcp"):
        if (
            conn.laddr
            and conn.laddr.port == port
            and conn.status == psutil.CONN_LISTEN
            and conn.pid
        ):
            return Path(psutil.Process(conn.pid).exe())
    raise AssertionError(f"nothing listens on {port}")


def test_baton_up_starts_four_ready_services_on_pip_shipped_servers(tmp_path: Path) -> None:
    metrics_base = _free_port_run(4)
    pg_port, nats_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    command = [
        sys.executable, "-m", "shared.cli.main", "up",
        "--data-dir", str(tmp_path / "data"),
        "--pg-port", str(pg_port), "--nats-port", str(nats_port),
        "--metrics-base-port", str(metrics_base),
    ]  # fmt: skip
    output = tmp_path / "up.log"
    with output.open("wb") as log:
        up = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while "Baton is up" not in output.read_text() and time.monotonic() < deadline:
            assert up.poll() is None, output.read_text()
            time.sleep(0.2)
        text = output.read_text()
        assert "Baton is up" in text, text
        for offset, name in enumerate(("assigner", "sender", "inbound", "reaper")):
            port = metrics_base + offset
            assert f"{name:<9} ready   http://127.0.0.1:{port}/metrics" in text
            assert _status(f"http://127.0.0.1:{port}/readyz") == 200
            assert _status(f"http://127.0.0.1:{port}/healthz") == 200
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                assert b"baton_service_info" in r.read()
        # The servers are the pip-shipped ones, on our ports, not the machine's own.
        assert _listener_exe(pg_port).parent == postgres_bin_dir().resolve()
        assert _listener_exe(nats_port) == nats_server_binary().resolve()
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 6  # postgres, nats-server, four services
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(60)
    assert code == 0, output.read_text()
    assert "stopping" in output.read_text()
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_baton_up_keeps_data_across_restarts(tmp_path: Path) -> None:
    """A second `baton up` on the same folder finds the schema already migrated."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    outputs = []
    for _ in range(2):
        metrics_base = _free_port_run(4)
        command = [
            sys.executable, "-m", "shared.cli.main", "up", "--data-dir", str(tmp_path / "data"),
            "--pg-port", str(free_port()), "--nats-port", str(free_port()),
            "--metrics-base-port", str(metrics_base),
        ]  # fmt: skip
        log_path = tmp_path / f"up{len(outputs)}.log"
        with log_path.open("wb") as log:
            up = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while "Baton is up" not in log_path.read_text() and time.monotonic() < deadline:
            assert up.poll() is None, log_path.read_text()
            time.sleep(0.2)
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0
        outputs.append(log_path.read_text())
    assert "migrations applied: ['0001_schema'" in outputs[0]
    assert "migrations applied: none pending" in outputs[1]
