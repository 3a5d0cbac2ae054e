"""The life of a Baton service process: connect, declare, serve, and shut down gracefully.

Each service supplies a `ServiceDefinition` (its endpoints, consumers and background workers);
this module does everything they have in common, in the same order every time:
logging -> probes -> Postgres -> NatsClient -> streams/consumers -> serve -> SIGTERM -> stop taking
work -> finish in-flight work -> drain NATS -> close the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from shared.contract import catalogue as api
from shared.contract.schemas.system import StatusReply, StatusRequest
from shared.runtime import failpoints, metrics
from shared.runtime.access import Caller
from shared.runtime.allocator import return_large_buffers
from shared.runtime.backoff import Backoff
from shared.runtime.database import create_pool
from shared.runtime.endpoints import Endpoint, RequestServer, bound
from shared.runtime.http_server import ProbeServer
from shared.runtime.jetstream import (
    ALL_STREAMS,
    EVENTS_PREFIX,
    ConfigDriftError,
    ConsumerSpec,
    declare_all,
)
from shared.runtime.logging import configure_logging
from shared.runtime.migrations import current_version, latest_version
from shared.runtime.nats_connection import ConnectionWatch, connect_configured
from shared.runtime.outbox import OutboxPublisher
from shared.runtime.settings import CommonSettings
from shared.runtime.tokens import verifier_from_settings
from shared.runtime.version import baton_version

log = structlog.get_logger(__name__)

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
# A service's own settings type (AssignerSettings, ...): its definition, its context and
# `run_service` agree on it, so no service falls back to defaults when a type check fails.
SettingsT = TypeVar("SettingsT", bound=CommonSettings)


# eq=False: a context is one running service, equal only to itself (and hashable, so a service
# may key what its endpoints and workers share by it).
@dataclass(eq=False)
class ServiceContext(Generic[SettingsT]):
    """What a running service hands to its handlers and workers."""

    name: str
    settings: SettingsT
    pool: asyncpg.Pool
    nc: NatsClient
    js: JetStreamContext
    # Every service publishes events through the same transactional outbox.
    outbox: OutboxPublisher


@dataclass(frozen=True)
class ServiceDefinition(Generic[SettingsT]):
    name: str
    settings_type: type[SettingsT]
    endpoints: Callable[[ServiceContext[SettingsT]], list[Endpoint[Any]]] = lambda _: []
    consumers: tuple[ConsumerSpec, ...] = ()
    workers: Callable[[ServiceContext[SettingsT]], list[Worker]] = lambda _: []
    # The outbox subjects (prefixes) this service publishes, as its NATS user is allowed to
    # (deploy/nats/nats-production.conf; a test checks the two agree). Rows other services
    # queue under other subjects wait for them.
    publishes: tuple[str, ...] = (EVENTS_PREFIX,)


@dataclass
class _Readiness:
    pool: asyncpg.Pool | None = None
    nc: NatsClient | None = None
    declared: bool = False
    schema_current: bool = False

    async def __call__(self) -> dict[str, bool]:
        postgres = False
        if self.pool is not None:
            with contextlib.suppress(Exception):
                postgres = await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2) == 1
        return {
            "postgres": postgres,
            "schema": self.schema_current,
            "nats": self.nc is not None and self.nc.is_connected,
            "jetstream": self.declared,
        }


async def _connect_nats_retrying(
    settings: CommonSettings, name: str, watch: ConnectionWatch
) -> NatsClient:
    backoff = Backoff(base=0.2, cap=5.0)
    while True:
        try:
            return await connect_configured(settings, name, watch=watch)
        except Exception as exc:
            log.warning(
                "nats_unreachable",
                attempt=backoff.failures + 1,
                error=str(exc) or type(exc).__name__,
            )
            await backoff.wait()


async def _wait_for_schema(pool: asyncpg.Pool, readiness: _Readiness) -> int:
    """Services never migrate; they wait for `baton migrate` (or the migration Job) to run."""
    wanted = latest_version()
    warned = False
    while True:
        async with pool.acquire() as conn:
            have = await current_version(conn)
        if have >= wanted:
            readiness.schema_current = True
            return have
        if not warned:
            log.warning("schema_behind", have=have, wanted=wanted, hint="run `baton migrate`")
            warned = True
        await asyncio.sleep(1)


async def _declare_retrying(
    js: JetStreamContext, consumers: tuple[ConsumerSpec, ...], replicas: int
) -> None:
    """Declare streams and consumers, waiting out a JetStream that is not ready yet (a cluster
    still electing its meta leader answers "temporarily unavailable"). Drift is not waited out."""
    backoff = Backoff(base=0.2, cap=2.0)
    while True:
        try:
            await declare_all(js, ALL_STREAMS, consumers, replicas)
            return
        except ConfigDriftError:
            raise
        except Exception as exc:
            if backoff.failures >= 60:
                raise
            log.warning(
                "jetstream_not_ready",
                attempt=backoff.failures + 1,
                error=str(exc) or type(exc).__name__,
            )
            await backoff.wait()


async def _watch_pool(name: str, pool: asyncpg.Pool, nc: NatsClient) -> None:
    while True:
        size = pool.get_size()
        metrics.DB_POOL_SIZE.labels(name).set(size)
        metrics.DB_POOL_IN_USE.labels(name).set(size - pool.get_idle_size())
        metrics.NATS_CONNECTED.labels(name).set(1 if nc.is_connected else 0)
        await asyncio.sleep(2)


async def _drain_quietly(nc: NatsClient) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


async def _stop_serving(
    server: RequestServer,
    workers: list[asyncio.Task[None]],
    watcher: asyncio.Task[None],
    stop: asyncio.Event,
    grace_seconds: float,
) -> None:
    stop.set()
    await server.stop(grace_seconds)
    if workers:
        _, late = await asyncio.wait(workers, timeout=grace_seconds)
        for task in late:
            task.cancel()
    watcher.cancel()


async def run_service(
    definition: ServiceDefinition[SettingsT],
    settings: SettingsT,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM/SIGINT, or until `stop` is set when the caller supplies one (tests)."""
    name = definition.name
    if not isinstance(settings, definition.settings_type):  # a caller outside mypy's reach
        raise TypeError(f"{name} runs on {definition.settings_type.__name__} settings")
    configure_logging(name, settings.log_format, settings.log_level)
    # Before the service's buffers exist: a long run's resident memory then levels off.
    log.info("allocator", returns_large_buffers=return_large_buffers())
    # Before anything else: a service that could not tell callers apart must not start.
    verifier = verifier_from_settings(settings)
    failpoints.arm(name, settings.crash_points, settings.crash_once_dir)
    started = time.monotonic()
    metrics.SERVICE_INFO.labels(name, baton_version()).set(1)

    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

    # Whatever has started is closed on the way out, whether the service stops or fails to start
    # (a failed start used to leave the pool and the probe server open): last started, first
    # closed.
    async with contextlib.AsyncExitStack() as started_parts:
        readiness = _Readiness()
        probes = ProbeServer(settings.metrics_host, settings.metrics_port, readiness)
        await probes.start()
        started_parts.push_async_callback(probes.stop)
        log.info("probes_listening", port=probes.port)

        pool = await create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        started_parts.push_async_callback(pool.close)
        readiness.pool = pool
        watch = ConnectionWatch()
        nc = await _connect_nats_retrying(settings, name, watch)
        started_parts.push_async_callback(_drain_quietly, nc)
        readiness.nc = nc
        js = nc.jetstream()
        schema_version = await _wait_for_schema(pool, readiness)
        await _declare_retrying(js, definition.consumers, settings.stream_replicas)
        readiness.declared = True

        publisher = OutboxPublisher(
            name,
            pool,
            js,
            poll_seconds=settings.outbox_poll_seconds,
            batch=settings.outbox_batch,
            lease_seconds=settings.outbox_lease_seconds,
            subjects=definition.publishes,
        )
        context = ServiceContext(name, settings, pool, nc, js, publisher)
        server: RequestServer

        async def status(_: StatusRequest, __: Caller) -> StatusReply:
            return StatusReply(
                service=name,
                version=baton_version(),
                schema_version=schema_version,
                uptime_seconds=round(time.monotonic() - started, 3),
                in_flight=server.in_flight,
            )

        endpoints: list[Endpoint[Any]] = [
            bound(api.status_route(name), status),
            *definition.endpoints(context),
        ]
        server = RequestServer(
            nc,
            name,
            endpoints,
            queue=name,
            max_in_flight=settings.max_in_flight,
            max_request_bytes=settings.max_request_bytes,
            verifier=verifier,
        )
        await server.start()
        watch.on_reconnected.append(server.resend_recent)
        workers = [
            asyncio.create_task(worker(stop))
            for worker in [publisher.run, *definition.workers(context)]
        ]
        watcher = asyncio.create_task(_watch_pool(name, pool, nc))
        # Requests stop first, then the workers finish what they hold.
        started_parts.push_async_callback(
            _stop_serving, server, workers, watcher, stop, settings.shutdown_grace_seconds
        )
        log.info("service_ready", subjects=[e.subject for e in endpoints], workers=len(workers))
        if ready is not None:
            ready.set()

        # A worker that dies takes the process down with it: the orchestrator restarts a clean
        # one, which is better than a service that looks ready but no longer works.
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *workers], return_when=asyncio.FIRST_COMPLETED)
        failed = [task for task in done if task is not stopped and task.exception() is not None]
        for task in failed:
            log.error("worker_failed", error=repr(task.exception()))
        log.info("service_stopping")
    log.info("service_stopped")
    if failed:
        raise SystemExit(1)
