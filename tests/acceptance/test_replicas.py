"""Two replicas of every service share the work of a campaign; one of each is killed mid-run and
one of those restarted; every invariant still holds."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.baton_up import SERVICES, baton_up
from tools.cli.supervisor import service_ready
from tools.devservers.ports import free_port

pytestmark = pytest.mark.acceptance


def _replica(service: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "services", service],
                            env={**env, "BATON_METRICS_PORT": str(port), "BATON_METRICS_HOST": "127.0.0.1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _served(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        text = r.read().decode()
    return sum(
        float(v)
        for v in re.findall(r'^baton_requests_total\{[^}]*outcome="ok"[^}]*\} (\S+)', text, re.M)
    )


@pytest.mark.timeout(300)
def test_two_replicas_of_everything_with_one_killed(tmp_path: Path) -> None:
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        log = up.output()
        database = re.search(r"postgres \(pip-shipped\) (postgresql://\S+)", log)
        nats_url = re.search(r"(nats://127\.0\.0\.1:\d+)", log)
        assert database and nats_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        # The second replicas verify, and the simulation signs, with `baton up`'s secret.
        env.update(up.auth_env(), BATON_DATABASE_URL=database.group(1),
                   BATON_NATS_URL=nats_url.group(1))  # fmt: skip
        ports = {service: free_port() for service in SERVICES}
        replicas = {service: _replica(service, env, ports[service]) for service in SERVICES}
        try:
            deadline = time.monotonic() + 60
            while not all(service_ready(p) for p in ports.values()):
                assert time.monotonic() < deadline, "second replicas not ready"
                time.sleep(0.2)
            simulation = subprocess.Popen(
                [sys.executable, "-m", "tools.cli.main", "simulate", "--contacts", "1500", "--texters", "6",
                 "--batch-size", "50", "--send-rate", "40", "--reply-rate", "0.2", "--unresponsive", "0",
                 "--release-after-minutes", "0", "--reassign-after-seconds", "3", "--time-limit-seconds", "200",
                 "--json"],
                env={**env, "BATON_DATABASE_URL": ""}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            time.sleep(8)
            served_before_kill = {s: _served(ports[s]) for s in ("assigner", "sender")}
            for service in SERVICES:
                replicas[service].send_signal(signal.SIGKILL)
                replicas[service].wait(10)
            replicas["sender"] = _replica("sender", env, ports["sender"])  # one comes back
            out, err = simulation.communicate(timeout=260)
        finally:
            for process in replicas.values():
                process.kill()
                process.wait(10)
    assert simulation.returncode == 0, out[-3000:] + err[-3000:]
    report = json.loads(out)
    assert report["finished"] is True
    assert report["invariants"] and all(report["invariants"].values()), report["invariants"]
    # The second replicas really took a share of the requests before they were killed.
    assert served_before_kill["assigner"] > 0 and served_before_kill["sender"] > 0, (
        served_before_kill
    )
