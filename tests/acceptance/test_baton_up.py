"""`baton up` on a clean data folder: real servers from pip, four ready services, clean stop, and a
development secret the services verify tokens with, kept across restarts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from shared.cli.credentials import dev_secret_path
from shared.devservers.nats import nats_server_binary
from shared.devservers.postgres import postgres_bin_dir
from tests.support.baton_up import SERVICES, BatonUp, baton_up, nats_url

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


def _baton(up: BatonUp, *argv: str, token: str = "") -> subprocess.CompletedProcess[str]:
    """The `baton` command in another shell, with nothing configured but where NATS is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_NATS_URL"] = nats_url(up)
    if token:
        env["BATON_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "shared.cli.main", *argv], env=env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_baton_up_keeps_data_and_its_development_secret_across_restarts(tmp_path: Path) -> None:
    """A second `baton up` on the same folder finds the schema already migrated, and the same
    development secret: a token minted during the first run still works in the second."""
    data = tmp_path / "data"
    outputs, secrets = [], []
    for run in range(2):
        with baton_up(data, tmp_path / f"up{run}.log") as up:
            secrets.append(dev_secret_path(data).read_text())
            if run == 0:
                minted = _baton(up, "token", "--operator", "--ttl", "1h", "--data-dir", str(data))
                assert minted.returncode == 0, minted.stderr
                created = _baton(up, "org", "create", "First", "--as", "operator",
                                 "--data-dir", str(data), "--json")  # fmt: skip
            else:
                created = _baton(up, "org", "create", "Second", "--json", token=minted.stdout)
            assert created.returncode == 0, created.stderr
            assert json.loads(created.stdout)["org_id"] == run + 1
            # The services really check: a token not signed with the secret is refused.
            refused = _baton(up, "org", "create", "Nobody", token="not.a.token")
            assert refused.returncode == 4 and "unauthenticated" in refused.stderr, refused.stderr
        assert up.process.returncode == 0
        outputs.append(up.output())
    assert "migrations applied: ['0001_schema'" in outputs[0]
    assert "migrations applied: none pending" in outputs[1]
    assert secrets[0] == secrets[1] and len(secrets[0].strip()) >= 32
    assert stat.S_IMODE(dev_secret_path(data).stat().st_mode) == 0o600
    for output in outputs:
        assert f"development secret in {dev_secret_path(data).resolve()}" in output
        assert f"baton token --operator --data-dir {data}" in output
