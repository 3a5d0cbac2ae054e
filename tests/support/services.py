"""Run Baton services inside the test's event loop, against the test's real servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from shared.contract.catalogue import status_route
from shared.runtime.service import ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import TEST_AUTH_SECRET


def own_settings(definition: ServiceDefinition[Any], settings: CommonSettings) -> Any:
    """`settings` as the service's own type. A test handing every service the same common
    settings gets each service's defaults for the rest."""
    if isinstance(settings, definition.settings_type):
        return settings
    common = {field.name: getattr(settings, field.name) for field in fields(CommonSettings)}
    return definition.settings_type(**common)


@contextlib.asynccontextmanager
async def running(
    definition: ServiceDefinition[Any],
    settings: CommonSettings,
    metrics_port: int = 0,
    client: dict[str, str] | None = None,
) -> AsyncIterator[CommonSettings]:
    """`client`: NATS credentials for the readiness check, where the server requires them."""
    settings = own_settings(definition, settings)
    # Port 0 by default: the probe server takes any free port, so services never collide.
    settings = replace(
        settings, metrics_port=metrics_port, metrics_host="127.0.0.1", log_format="json"
    )
    if not (settings.auth_secret or settings.auth_secret_file or settings.auth_public_keys):
        # The tests' own callers sign with this secret (tests/support/baton_client.py).
        settings = replace(settings, auth_secret=TEST_AUTH_SECRET)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_service(definition, settings, stop, ready))
    ready_wait = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, ready_wait}, timeout=30, return_when="FIRST_COMPLETED")
    if task in done:
        ready_wait.cancel()
        task.result()  # raise whatever stopped it
        raise RuntimeError(f"{definition.name} stopped before it was ready")
    if ready_wait not in done:
        task.cancel()
        raise TimeoutError(f"{definition.name} was not ready within 30 s")
    await _until_answering(settings.nats_url, status_route(definition.name).subject, client or {})
    try:
        yield settings
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def _until_answering(url: str, subject: str, credentials: dict[str, str]) -> None:
    """Ready means the service answers from another connection, as a real client would see it."""
    client = await nats.connect(url, **credentials)
    try:
        for _ in range(100):
            try:
                await client.request(subject, b"{}", timeout=1)
                return
            except (NoRespondersError, NatsTimeout):
                await asyncio.sleep(0.05)
        raise TimeoutError(f"nothing answers {subject}")
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def service_process(
    name: str, database_url: str, nats_url: str, log: Path, **settings: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The service `name` as its own process, as deployed (`python -m services NAME`): a crash
    shows as its exit, not as a SystemExit thrown through the test's event loop. `settings` are
    more BATON_* variables (`crash_points="..."` for BATON_CRASH_POINTS); output goes to `log`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update(BATON_DATABASE_URL=database_url, BATON_NATS_URL=nats_url, BATON_DB_POOL_MIN="1",
               BATON_AUTH_SECRET=TEST_AUTH_SECRET, BATON_METRICS_PORT="0",
               BATON_METRICS_HOST="127.0.0.1", BATON_LOG_FORMAT="json")  # fmt: skip
    env.update({f"BATON_{key.upper()}": value for key, value in settings.items()})
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services", name, env=env, stdout=out, stderr=out
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
