"""Runs the services (the four core ones, and the provider bridge where one is configured) as
separate processes, and keeps them and `baton up`'s own servers
running."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from shared.contract.catalogue import SERVICE_NAMES
from shared.runtime.backoff import Backoff
from shared.runtime.deployed import deployed_services
from tools.devservers.lifetime import dies_with_parent
from tools.devservers.postgres import DevServerError


def service_ready(metrics_port: int) -> bool:
    """Whether the service whose probes listen on `metrics_port` answers /readyz with 200."""
    try:
        url = f"http://127.0.0.1:{metrics_port}/readyz"
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as refused:  # 503 while it starts: close what it holds
        refused.close()
        return False
    except (OSError, http.client.HTTPException):
        # HTTPException: something not speaking HTTP on the port (or, in the ephemeral range, the
        # probe's own socket connected to itself) is not a ready service.
        return False


@dataclass
class ServiceProcess:
    name: str
    # Where it answers /readyz (a service's probe server).
    metrics_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = field(default=0.0)
    # What runs: `python -m services NAME` unless given (the provider simulator).
    command: tuple[str, ...] = ()

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> None:
        self.process = subprocess.Popen(
            list(self.command) or [sys.executable, "-m", "services", self.name],
            env=self.env,
            # Its own session: Ctrl-C reaches only `baton up`, which stops services in order;
            # if `baton up` is killed, the service stops too (it would run on unsupervised).
            start_new_session=True,
            preexec_fn=dies_with_parent(signal.SIGTERM),
        )
        self.started_at = time.monotonic()

    def ready(self) -> bool:
        return service_ready(self.metrics_port)

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def service_processes(
    database_url: str,
    nats_url: str,
    metrics_base_port: int,
    extra_env: Mapping[str, str] | None = None,
) -> list[ServiceProcess]:
    """The deployed services, each with this process's environment plus `extra_env` (the key
    they verify tokens with, when `baton up` made one) and its own server addresses and port
    (the catalogue's order, so the bridge's port is the same whether or not it runs)."""
    processes = []
    environment = {**os.environ, **(extra_env or {})}
    running = deployed_services(environment)
    for offset, name in enumerate(SERVICE_NAMES):
        if name not in running:
            continue
        env = dict(environment)
        env.update(
            BATON_DATABASE_URL=database_url,
            BATON_NATS_URL=nats_url,
            BATON_METRICS_PORT=str(metrics_base_port + offset),
            BATON_METRICS_HOST="127.0.0.1",
        )
        processes.append(ServiceProcess(name, metrics_base_port + offset, env))
    return processes


def wait_ready(processes: list[ServiceProcess], timeout: float) -> list[str]:
    """Wait until every service answers /readyz; return the names of those that did not."""
    deadline = time.monotonic() + timeout
    pending = {p.name: p for p in processes}
    while pending and time.monotonic() < deadline:
        for name, proc in list(pending.items()):
            if proc.ready():
                del pending[name]
            elif proc.exited() is not None:
                return [name]
        time.sleep(0.1)
    return sorted(pending)


class Supervised(Protocol):
    """A process `baton up` runs: a service, or a server it started itself."""

    def exited(self) -> int | None: ...
    def start(self) -> object: ...


# Up this long, a process is well again: its next death is restarted at once.
STABLE_AFTER_SECONDS = 60.0


class Restarter:
    """Starts again whatever dies: at once the first time, then backing off (1 s doubling to
    30 s, jittered) while it keeps dying, as a service that cannot start or a Postgres whose disk
    is full would."""

    def __init__(self, supervised: Mapping[str, Supervised], report: Callable[[str], None]) -> None:
        self._supervised = dict(supervised)
        self._report = report
        now = time.monotonic()
        self._started_at = dict.fromkeys(self._supervised, now)
        self._not_before = dict.fromkeys(self._supervised, now)
        self._backoff = {name: Backoff(base=1.0, cap=30.0) for name in self._supervised}

    def check(self) -> None:
        now = time.monotonic()
        for name, process in self._supervised.items():
            code = process.exited()
            if code is None:
                if now - self._started_at[name] > STABLE_AFTER_SECONDS:
                    self._backoff[name].reset()
                continue
            if now < self._not_before[name]:
                continue
            self._report(f"{name} exited with {code}; restarting")
            try:
                process.start()
                self._report(f"{name} restarted")
            except (DevServerError, OSError, TimeoutError) as exc:
                self._report(f"{name} did not start again: {exc}")
            self._started_at[name] = time.monotonic()
            self._not_before[name] = self._started_at[name] + self._backoff[name].next_delay()
