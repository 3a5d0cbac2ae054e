"""kill -9 of each service in the middle of a campaign: `baton up` restarts it, clients ride it
out, all work completes, and every invariant holds."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.baton_up import SERVICES, baton_up

pytestmark = pytest.mark.acceptance


def _service_pid(up_pid: int, service: str) -> int:
    for child in psutil.Process(up_pid).children():
        if f"services.{service}" in " ".join(child.cmdline()):
            return int(child.pid)
    raise AssertionError(f"no {service} process")


@pytest.mark.timeout(300)
def test_every_service_killed_mid_campaign_and_nothing_is_lost(tmp_path: Path) -> None:
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        nats_url = re.search(r"(nats://127\.0\.0\.1:\d+)", up.output())
        assert nats_url is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env["BATON_NATS_URL"] = nats_url.group(1)
        simulation = subprocess.Popen(
            [sys.executable, "-m", "shared.cli.main", "simulate", "--contacts", "1500", "--texters", "5",
             "--batch-size", "60", "--send-rate", "40", "--reply-rate", "0.2", "--unresponsive", "0",
             "--release-after-minutes", "0", "--reassign-after-seconds", "3", "--time-limit-seconds", "200",
             "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(6)  # the campaign is under way
        for service in SERVICES:
            os.kill(_service_pid(up.process.pid, service), signal.SIGKILL)
            time.sleep(3)
        out, err = simulation.communicate(timeout=260)
        log = up.output()
    assert simulation.returncode == 0, out[-3000:] + err[-3000:]
    report = json.loads(out)
    assert report["finished"] is True
    assert report["invariants"] and all(report["invariants"].values()), report["invariants"]
    for service in SERVICES:
        assert f"{service} exited with -9; restarting" in log
