"""`baton up` on a clean data folder: real servers from pip, four ready services, clean stop."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from shared.devservers.nats import nats_server_binary
from shared.devservers.postgres import postgres_bin_dir
from tests.support.baton_up import SERVICES, baton_up

pytestmark = pytest.mark.acceptance


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code
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
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        text = up.output()
        for name in SERVICES:
            port = up.metrics_port(name)
            assert f"{name:<9} ready   http://127.0.0.1:{port}/metrics" in text
            assert _status(f"http://127.0.0.1:{port}/readyz") == 200
            assert _status(f"http://127.0.0.1:{port}/healthz") == 200
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                assert b"baton_service_info" in r.read()
        # The servers are the pip-shipped ones, on our ports, not the machine's own.
        assert _listener_exe(up.pg_port).parent == postgres_bin_dir().resolve()
        assert _listener_exe(up.nats_port) == nats_server_binary().resolve()
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
        children = psutil.Process(up.process.pid).children(recursive=True)
        assert len(children) >= 6  # postgres, nats-server, four services
    assert up.process.returncode == 0, up.output()
    assert "stopping" in up.output()
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_baton_up_keeps_data_across_restarts(tmp_path: Path) -> None:
    """A second `baton up` on the same folder finds the schema already migrated."""
    outputs = []
    for run in range(2):
        with baton_up(tmp_path / "data", tmp_path / f"up{run}.log") as up:
            pass
        assert up.process.returncode == 0
        outputs.append(up.output())
    assert "migrations applied: ['0001_schema'" in outputs[0]
    assert "migrations applied: none pending" in outputs[1]
