"""An upgrade as docs/operations.md orders it, with the previous release's real code: its
migrations and services from git (PREVIOUS_RELEASE), a campaign run through them, then this
release's `baton migrate` while they still run, a second campaign through the old services on
the upgraded schema, and a rolling replacement by this release's services, which serve a third
campaign and the old data. Every campaign checks its invariants; nothing may fail.

The previous release's code comes from this repository's own history (`git archive`): a clone
without it (a shallow one) fails here, loudly."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path

import asyncpg
import pytest

from shared.contract.catalogue import CORE_SERVICE_NAMES
from shared.runtime.migrations import latest_version
from tests.support.baton_up import finished_report
from tests.support.databases import empty_database
from tests.support.servers import ServerSet
from tools.cli.supervisor import service_ready
from tools.devservers.ports import free_port

pytestmark = pytest.mark.acceptance

ROOT = Path(__file__).resolve().parents[2]
# The release before this one (CHANGELOG.md), by its commit: what a deployment runs before it
# upgrades.
PREVIOUS_RELEASE = ("0.1.0", "99ccebc3550b828ca274ed1706677bfbfdf5cd37")
# Each campaign's own organization, number and texts (tools/simulation); small and quick.
CAMPAIGN = ["--contacts", "150", "--texters", "3", "--batch-size", "40", "--send-rate", "100",
            "--reply-rate", "0.3", "--unresponsive", "0", "--release-after-minutes", "0",
            "--reassign-after-seconds", "1", "--time-limit-seconds", "120", "--json"]  # fmt: skip


def _previous_release(into: Path) -> Path:
    """The previous release's `shared` and `services`, as git has them."""
    _, commit = PREVIOUS_RELEASE
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "shared", "services"],
        capture_output=True, check=False,
    )  # fmt: skip
    assert archive.returncode == 0, (
        f"the previous release {commit} is not in this clone's history: "
        f"{archive.stderr.decode()[-500:]}"
    )
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


class Release:
    """One release's code, run as processes: from its own folder, which comes first on the
    import path (the working folder does, for `python -m`)."""

    def __init__(self, name: str, code: Path, env: dict[str, str]) -> None:
        self.name = name
        self.code = code
        self.env = {**env, "PYTHONPATH": str(code)}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", *args], cwd=self.code, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip

    def imports_from(self) -> Path:
        found = subprocess.run(
            [sys.executable, "-c", "import services, shared; print(shared.__file__)"],
            cwd=self.code, env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return Path(found.stdout.strip()).parent.parent

    def start_service(self, name: str, metrics_port: int, log: Path) -> subprocess.Popen[bytes]:
        env = {**self.env, "BATON_METRICS_PORT": str(metrics_port)}
        with log.open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", "services", name], cwd=self.code,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip

    def cli(self) -> str:
        """The release's own `baton` command: in tools/ since issue #32, in shared/ before (a
        path built here, so that the restructuring script's rewrite leaves it alone)."""
        if (self.code / "tools").is_dir():
            return "tools.cli.main"
        return ".".join(("shared", "cli", "main"))

    def campaign(self) -> dict[str, object]:
        simulation = subprocess.Popen(
            [sys.executable, "-m", self.cli(), "simulate", *CAMPAIGN], cwd=self.code,
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        report = finished_report(simulation, timeout=200)
        messages = report["messages"]
        assert isinstance(messages, dict)
        assert messages["on_outbound"] == messages["sent"] + messages["opt_out_confirmations"]
        return report


def _schema_version(database_url: str) -> int:
    async def read() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT max(version) FROM schema_migration"))
        finally:
            await conn.close()

    return asyncio.run(read())


def _wait_ready(ports: dict[str, int], processes: dict[str, subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 90
    while not all(service_ready(port) for port in ports.values()):
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited ({process.returncode})"
        assert time.monotonic() < deadline, "not ready within 90 s"
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    assert process.wait(60) == 0, f"stopped with {process.returncode}"


@pytest.mark.timeout(900)
def test_an_upgrade_under_the_previous_releases_running_services_fails_nothing(
    servers: ServerSet, nats_url: str, tmp_path: Path
) -> None:
    previous = _previous_release(tmp_path / "previous")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    with empty_database(servers.postgres_url, "baton_upgrade") as database_url:
        env.update(BATON_DATABASE_URL=database_url, BATON_NATS_URL=nats_url,
                   BATON_AUTH_SECRET=secrets.token_urlsafe(48))  # fmt: skip
        old = Release(PREVIOUS_RELEASE[0], previous, env)
        new = Release("this release", ROOT, env)
        log = tmp_path / "services.log"
        assert old.imports_from() == previous  # not this release's code
        assert new.imports_from() == ROOT

        migrated = old.run(old.cli(), "migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        old_version = _schema_version(database_url)
        ports = {name: free_port() for name in CORE_SERVICE_NAMES}
        running = {name: old.start_service(name, ports[name], log) for name in CORE_SERVICE_NAMES}
        try:
            _wait_ready(ports, running)
            old.campaign()  # data of the previous release

            # This release's migration, with the previous release's services serving.
            upgraded = new.run(new.cli(), "migrate")
            assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
            assert _schema_version(database_url) == latest_version() >= old_version
            old.campaign()  # the old services on the new schema: nothing fails

            # A rolling replacement, one service at a time, as an orchestrator does it.
            for name in CORE_SERVICE_NAMES:
                _stop(running[name])
                ports[name] = free_port()
                running[name] = new.start_service(name, ports[name], log)
                _wait_ready({name: ports[name]}, {name: running[name]})
            new.campaign()
        finally:
            for process in running.values():
                if process.poll() is None:
                    process.terminate()
                    process.wait(60)
        errors = [line for line in log.read_text().splitlines() if '"level": "error"' in line]
        assert errors == [], "\n".join(errors[:20])
