"""Fixtures: real Postgres and NATS for the session, a fresh database and JetStream per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from shared.runtime.settings import CommonSettings
from tests.support.databases import clone_database, create_template, drop_database, with_database
from tests.support.nats_reset import delete_all_streams
from tests.support.servers import CHOICES, ServerSet, start_test_servers


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say where the session's servers came from (tests/support/servers.py)."""
    for choice in dict.fromkeys(CHOICES):  # each once, though every worker chose
        terminalreporter.write_line(f"test servers: {choice}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, a worker hands its choices to the controller, which reports them."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["server_choices"] = list(CHOICES)


def pytest_testnodedown(node: Any, error: object) -> None:  # a pytest-xdist hook
    CHOICES.extend(getattr(node, "workeroutput", {}).get("server_choices", []))


@pytest.fixture(scope="session")
def servers() -> Iterator[ServerSet]:
    with start_test_servers() as found:
        yield found


@pytest.fixture(scope="session")
def template_database(servers: ServerSet) -> Iterator[str]:
    name = asyncio.run(create_template(servers.postgres_url))
    yield name
    # Servers named by BATON_TEST_DATABASE_URL outlive the session: leave nothing there.
    asyncio.run(drop_database(servers.postgres_url, name))


@pytest.fixture
async def database_url(servers: ServerSet, template_database: str) -> AsyncIterator[str]:
    name = await clone_database(servers.postgres_url, template_database)
    yield with_database(servers.postgres_url, name)
    await drop_database(servers.postgres_url, name)


@pytest.fixture
async def nats_url(servers: ServerSet) -> str:
    await delete_all_streams(servers.nats_url)
    return servers.nats_url


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=10)
    assert created is not None
    yield created
    await created.close()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
def settings(database_url: str, nats_url: str) -> CommonSettings:
    return CommonSettings(database_url=database_url, nats_url=nats_url, db_pool_min=1)
