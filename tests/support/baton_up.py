"""`baton up` as a subprocess on its own data folder and free ports, for acceptance tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.devservers.ports import free_port, free_port_run

SERVICES = ("assigner", "sender", "inbound", "reaper")


@dataclass
class BatonUp:
    process: subprocess.Popen[bytes]
    log: Path
    metrics_base: int
    pg_port: int
    nats_port: int

    def output(self) -> str:
        return self.log.read_text()

    def metrics_port(self, service: str) -> int:
        return self.metrics_base + SERVICES.index(service)


@contextlib.contextmanager
def baton_up(data_dir: Path, log: Path, timeout: float = 90) -> Iterator[BatonUp]:
    """Start `baton up` with no BATON_* variables, wait for "Baton is up", Ctrl-C it after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    up = BatonUp(process=None, log=log, metrics_base=free_port_run(4),  # type: ignore[arg-type]
                 pg_port=free_port(), nats_port=free_port())  # fmt: skip
    command = [
        sys.executable, "-m", "shared.cli.main", "up", "--data-dir", str(data_dir),
        "--pg-port", str(up.pg_port), "--nats-port", str(up.nats_port),
        "--metrics-base-port", str(up.metrics_base),
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
