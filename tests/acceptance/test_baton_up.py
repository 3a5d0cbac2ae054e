"""`baton up` on a clean data folder: real servers from pip, four ready services, clean stop, and a
development secret the services verify tokens with, kept across restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg
import psutil
import pytest

from shared.runtime.commands.credentials import dev_secret_path
from shared.runtime.commands.running_up import CliSettings, cli_settings
from tests.support.baton_up import SERVICES, BatonUp, baton_up, database_url, nats_url
from tools.devservers.nats import nats_server_binary
from tools.devservers.postgres import LocalPostgres, postgres_bin_dir

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
    return Path(psutil.Process(_listener_pid(port)).exe())


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


def _baton(
    up: BatonUp, *argv: str, token: str = "", nats_from_env: bool = True
) -> subprocess.CompletedProcess[str]:
    """The `baton` command in another shell, with nothing configured but where NATS is (or, with
    `nats_from_env` false, not even that: the data folder says)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    if nats_from_env:
        env["BATON_NATS_URL"] = nats_url(up)
    if token:
        env["BATON_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "tools.cli.main", *argv], env=env,
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
            # Beside `baton up`, its data folder says where NATS is: no BATON_NATS_URL needed.
            owner = _baton(up, "user", "create", "--org", str(run + 1), "--name", "Olivia",
                           "--role", "owner", "--as", "operator", "--data-dir", str(data),
                           "--json", nats_from_env=False)  # fmt: skip
            assert owner.returncode == 0, owner.stderr
            shown = _baton(up, "org", "show", str(run + 1), "--data-dir", str(data), "--json",
                           "--as", str(json.loads(owner.stdout)["user_id"]), nats_from_env=False)  # fmt: skip
            assert shown.returncode == 0 and json.loads(shown.stdout)["org_id"] == run + 1, (
                shown.stderr)  # fmt: skip
            status = _baton(up, "status", "--data-dir", str(data), nats_from_env=False)
            assert status.returncode == 0, status.stdout + status.stderr
            # The services really check: a token not signed with the secret is refused.
            refused = _baton(up, "org", "create", "Nobody", token="not.a.token")
            assert refused.returncode == 4 and "unauthenticated" in refused.stderr, refused.stderr
        assert up.process.returncode == 0
        assert not (data / "up.json").exists()  # a stopped Baton is not announced
        outputs.append(up.output())
    assert "migrations applied: ['0001_schema'" in outputs[0]
    assert "migrations applied: none pending" in outputs[1]
    assert secrets[0] == secrets[1] and len(secrets[0].strip()) >= 32
    assert stat.S_IMODE(dev_secret_path(data).stat().st_mode) == 0o600
    for output in outputs:
        assert f"development secret in {dev_secret_path(data).resolve()}" in output
        assert f"baton token --operator --data-dir {data}" in output


def _wait_for(up: BatonUp, text: str, within: float = 90) -> None:
    deadline = time.monotonic() + within
    while text not in up.output():
        assert up.process.poll() is None, up.output()
        assert time.monotonic() < deadline, up.output()
        time.sleep(0.2)


def _created_eventually(up: BatonUp, name: str, within: float = 90) -> int:
    """Create an organization, retrying while the services reconnect; its id."""
    deadline = time.monotonic() + within
    while True:
        created = _baton(up, "org", "create", name, "--as", "operator",
                         "--data-dir", str(up.data_dir), "--json")  # fmt: skip
        if created.returncode == 0:
            return int(json.loads(created.stdout)["org_id"])
        assert time.monotonic() < deadline, created.stderr + up.output()
        time.sleep(1)


def test_baton_up_restarts_its_own_postgres_and_nats_when_they_are_killed(tmp_path: Path) -> None:
    """Issue #15: `baton up` supervises its servers as it does the services. Postgres killed
    outright leaves a stale `postmaster.pid` and backends holding its shared memory; NATS killed
    outright loses its connections. Both come back on their ports with their data, and the
    services, which never exited, serve again."""
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        assert _created_eventually(up, "Before") == 1
        postmaster = up.data_dir / "postgres" / "postmaster.pid"
        os.kill(int(postmaster.read_text().split()[0]), signal.SIGKILL)
        _wait_for(up, "postgres restarted")
        os.kill(_listener_pid(up.nats_port), signal.SIGKILL)
        _wait_for(up, "nats-server restarted")
        # A crash skips the identity values Postgres had cached: later, not necessarily next.
        assert _created_eventually(up, "After") > 1
        names = asyncio.run(_organization_names(database_url(up)))
        assert names == ["Before", "After"]  # committed before the kill, kept
        assert _listener_exe(up.pg_port).parent == postgres_bin_dir().resolve()
        assert _listener_exe(up.nats_port) == nats_server_binary().resolve()
        for name in SERVICES:
            assert f"{name} exited" not in up.output()
    assert up.process.returncode == 0, up.output()


def test_a_stale_postmaster_pid_naming_another_process_neither_blocks_a_start_nor_harms_it() -> (
    None
):
    """After a SIGKILL the pid in `postmaster.pid` may belong to anyone by the next start (pids
    are reused, in containers at once): Postgres would refuse to start, and signalling that pid
    would hit a stranger."""
    folder = tempfile.TemporaryDirectory(prefix="baton-stale-pid-")
    server = LocalPostgres(Path(folder.name) / "pg", durable=False)
    stranger = subprocess.Popen(["sleep", "120"])
    try:
        server.start()
        os.kill(server.pid or 0, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while server.exited() is None:
            assert time.monotonic() < deadline, "Postgres survived SIGKILL"
            time.sleep(0.05)
        pid_file = server.data_dir / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        pid_file.write_text("\n".join([str(stranger.pid), *lines[1:]]) + "\n")
        # An operator's shell sitting in the data folder is no Postgres process either.
        visitor = subprocess.Popen(["sleep", "120"], cwd=server.data_dir)
        try:
            server.start()
            assert stranger.poll() is None  # left alone
            assert visitor.poll() is None
        finally:
            visitor.kill()
            visitor.wait()
        assert asyncio.run(_select_one(server.url)) == 1
    finally:
        stranger.kill()
        stranger.wait()
        server.stop()
        folder.cleanup()


async def _organization_names(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [
            row["name"] for row in await conn.fetch("SELECT name FROM organization ORDER BY id")
        ]
    finally:
        await conn.close()


async def _select_one(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


def _listener_pid(port: int) -> int:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            assert conn.pid
            return conn.pid
    raise AssertionError(f"nothing listens on {port}")


def test_baton_up_on_servers_of_ones_own_with_a_key_serves_in_a_fresh_folder(
    tmp_path: Path, database_url: str, nats_url: str
) -> None:
    """The folder does not exist and baton up starts no server of its own: it still announces
    the servers it was given (it used to die writing there), and commands beside it find them."""
    folder = tmp_path / "fresh"
    given = {"BATON_DATABASE_URL": database_url, "BATON_NATS_URL": nats_url,
             "BATON_AUTH_SECRET": "a-deployment-key-of-at-least-32-bytes-0123456789"}  # fmt: skip
    with baton_up(folder / ".baton", tmp_path / "up.log", env_extra=given) as up:
        assert not (folder / ".baton" / "postgres").exists()
        assert "the BATON_AUTH_* key of this environment" in up.output()
        announced = json.loads((folder / ".baton" / "up.json").read_text())
        assert announced["nats_url"] == nats_url
        assert announced["database_url"] == database_url
        assert stat.S_IMODE((folder / ".baton" / "up.json").stat().st_mode) == 0o600
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        status = subprocess.run(
            [sys.executable, "-m", "tools.cli.main", "status", "--json"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert status.returncode == 0, status.stdout + status.stderr
        assert sorted(json.loads(status.stdout)) == sorted(SERVICES)
        assert up.process.poll() is None, up.output()
    assert not (folder / ".baton" / "up.json").exists()  # gone with it


def test_one_baton_up_per_folder_and_nothing_outlives_a_killed_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with baton_up(data_dir, tmp_path / "up.log") as up:
        started = psutil.Process(up.process.pid).children(recursive=True)
        assert len(started) >= 6, started  # Postgres, NATS, the four services
        second = subprocess.run(
            [sys.executable, "-m", "tools.cli.main", "up", "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"another `baton up` (process {up.process.pid}) is running" in second.stderr
        assert cli_settings(data_dir, {}).nats_url == nats_url(up)

        up.process.kill()
        up.process.wait(10)
        _, alive = psutil.wait_procs(started, timeout=60)
        assert alive == [], alive
        # Its announcement is left behind, and no longer believed.
        assert (data_dir / "up.json").exists()
        assert cli_settings(data_dir, {}).nats_url == CliSettings().nats_url
    with baton_up(data_dir, tmp_path / "again.log") as again:
        assert "Baton is up" in again.output()
