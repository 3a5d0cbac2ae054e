"""`baton up` as a subprocess on its own data folder and free ports, for acceptance tests.

With no BATON_AUTH_* given, `baton up` writes a development secret into the data folder and its
services verify tokens with it; clients of this `baton up` sign with the same file (`auth_env`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import asyncpg

from shared.contract.catalogue import CORE_SERVICE_NAMES, SERVICE_NAMES
from shared.runtime.commands.credentials import dev_secret_path
from tests.support.waiting import eventually
from tools.devservers.ports import free_port, free_port_run

SERVICES = CORE_SERVICE_NAMES


@dataclass
class BatonUp:
    process: subprocess.Popen[bytes]
    log: Path
    data_dir: Path
    metrics_base: int
    pg_port: int
    nats_port: int

    def output(self) -> str:
        return self.log.read_text()

    def metrics_port(self, service: str) -> int:
        return self.metrics_base + SERVICES.index(service)

    def auth_env(self) -> dict[str, str]:
        """What another process needs to call, or serve, this Baton: its development secret."""
        return {"BATON_AUTH_SECRET_FILE": str(dev_secret_path(self.data_dir).resolve())}


@contextlib.contextmanager
def baton_up(
    data_dir: Path,
    log: Path,
    timeout: float = 90,
    env_extra: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> Iterator[BatonUp]:
    """Start `baton up ARGS` with no BATON_* variables but `env_extra`, wait for "Baton is up",
    Ctrl-C it after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(env_extra or {})
    up = BatonUp(process=None, log=log, data_dir=data_dir,  # type: ignore[arg-type]
                 metrics_base=free_port_run(len(SERVICE_NAMES)), pg_port=free_port(), nats_port=free_port())  # fmt: skip
    command = [
        sys.executable, "-m", "tools.cli.main", "up", "--data-dir", str(data_dir),
        "--pg-port", str(up.pg_port), "--nats-port", str(up.nats_port),
        "--metrics-base-port", str(up.metrics_base), *args,
    ]  # fmt: skip
    with log.open("wb") as out:
        up.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while "Baton is up" not in up.output():
            assert up.process.poll() is None, up.output()
            assert time.monotonic() < deadline, up.output()
            time.sleep(0.2)
        yield up
    finally:
        up.process.send_signal(signal.SIGINT)
        up.process.wait(60)


def nats_url(up: BatonUp) -> str:
    found = re.search(r"(nats://127\.0\.0\.1:\d+)", up.output())
    assert found is not None, up.output()
    return found.group(1)


def database_url(up: BatonUp) -> str:
    found = re.search(r"(postgresql://\S+)", up.output())
    assert found is not None, up.output()
    return found.group(1)


def wait_until_texting(up: BatonUp, simulation: subprocess.Popen[str], within: float = 60) -> None:
    """Until this `baton up` stores its first text (each test has a `baton up` of its own, so it
    is the simulation's): a test that kills services "mid-campaign" kills them then, not after a
    fixed sleep (on a loaded machine the simulation was still starting 6 s in, met the assigner
    being restarted, and gave up on it). A simulation that ends first fails the wait with its
    output; one that sends nothing within `within` is stopped as `finished_report` stops one."""

    async def texting() -> None:
        conn = await asyncpg.connect(database_url(up))
        try:
            sent = "SELECT EXISTS (SELECT 1 FROM message WHERE direction = 'outbound')"

            async def any_text() -> bool:
                if simulation.poll() is not None:
                    out, err = simulation.communicate()
                    raise AssertionError(f"the simulation ended first:\n{out[-3000:]}{err[-3000:]}")
                return bool(await conn.fetchval(sent))

            await eventually(any_text, within=within)
        finally:
            await conn.close()

    try:
        asyncio.run(texting())
    except AssertionError:
        if simulation.poll() is None:
            _stop_overrunning(simulation, f"the simulation sent nothing within {within:.0f} s")
        raise


def _stop_overrunning(simulation: subprocess.Popen[str], what: str) -> NoReturn:
    """First where each of its tasks waits (SIGUSR1: tools/cli/simulate.py), then killed and
    reaped here, or its pipes and process outlive the test and fail the next one on the same
    worker (ResourceWarning is an error in this suite)."""
    simulation.send_signal(signal.SIGUSR1)
    try:
        _, err = simulation.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        simulation.kill()
        _, err = simulation.communicate()
    raise AssertionError(f"{what}:\n{err[-12000:]}")


def start_simulation(up: BatonUp, *args: str) -> subprocess.Popen[str]:
    """`baton simulate --json ARGS` against this `baton up`, as an outside harness runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(up.auth_env(), BATON_NATS_URL=nats_url(up))
    command = [sys.executable, "-m", "tools.cli.main", "simulate", *args, "--json"]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished_report(simulation: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    """Wait for the simulation; its report, after checking it finished with every invariant."""
    try:
        out, err = simulation.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_overrunning(simulation, f"the simulation ran past {timeout:.0f} s")
    assert simulation.returncode == 0, out[-3000:] + err[-3000:]
    report: dict[str, Any] = json.loads(out)
    assert report["finished"] is True, report
    assert report["invariants"] and all(report["invariants"].values()), report["invariants"]
    return report
