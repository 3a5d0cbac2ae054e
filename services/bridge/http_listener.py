"""The webhook listener: Starlette under uvicorn, on BATON_BRIDGE_HTTP_PORT.

Bounded: request headers by h11's limit (16 KiB), bodies by each route (webhook_guard.py),
requests at once by `limit_concurrency` (past it uvicorn answers 503, which a provider retries
or sends to the fallback URL). uvicorn's own signal handling is left out: the service owns
SIGTERM (shared/runtime/service.py) and stops the listener through its stop event.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

log = structlog.get_logger(__name__)

MAX_HEADER_BYTES = 16 * 1024
MAX_CONCURRENT_REQUESTS = 1000


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Listener:
    """Binds its port when it runs, not when it is made: a service that fails to start before
    its workers run leaves no socket open."""

    def __init__(self, routes: list[Route], host: str, port: int) -> None:
        self._address = (host, port)
        config = uvicorn.Config(
            Starlette(routes=routes),
            log_config=None,
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            limit_concurrency=MAX_CONCURRENT_REQUESTS,
            timeout_keep_alive=5,
        )
        self._server = _Server(config)

    async def run(self, stop: asyncio.Event) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
            bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            bound.bind(self._address)
            log.info("webhooks_listening", port=bound.getsockname()[1])
            serving = asyncio.create_task(self._server.serve(sockets=[bound]))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
            self._server.should_exit = True
            stopped.cancel()
            await serving
