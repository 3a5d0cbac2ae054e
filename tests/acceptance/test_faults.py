"""kill -9 of each service in the middle of a campaign: `baton up` restarts it, clients ride it
out, all work completes, and every invariant holds."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.support.baton_up import (
    SERVICES,
    baton_up,
    finished_report,
    start_simulation,
    wait_until_texting,
)

pytestmark = pytest.mark.acceptance


def _service_pid(up_pid: int, service: str) -> int:
    for child in psutil.Process(up_pid).children():
        if child.cmdline()[-2:] == ["services", service]:
            return int(child.pid)
    raise AssertionError(f"no {service} process")


@pytest.mark.timeout(300)
def test_every_service_killed_mid_campaign_and_nothing_is_lost(tmp_path: Path) -> None:
    # The simulation's own wait ends inside the test's timeout, so an overrun prints where its
    # tasks wait (finished_report) before pytest-timeout would cut the test.
    deadline = time.monotonic() + 285
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        simulation = start_simulation(
            up, "--contacts", "1500", "--texters", "5", "--batch-size", "60", "--send-rate", "40",
            "--reply-rate", "0.2", "--unresponsive", "0", "--release-after-minutes", "0",
            "--reassign-after-seconds", "3", "--time-limit-seconds", "200",
        )  # fmt: skip
        wait_until_texting(up, simulation)  # the campaign is under way
        for service in SERVICES:
            os.kill(_service_pid(up.process.pid, service), signal.SIGKILL)
            time.sleep(3)
        finished_report(simulation, timeout=deadline - time.monotonic())
        log = up.output()
    for service in SERVICES:
        assert f"{service} exited with -9; restarting" in log
