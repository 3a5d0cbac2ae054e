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

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

MAX_HEADER_BYTES = 16 * 1024
MAX_CONCURRENT_REQUESTS = 1000


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Listener:
    """Binds its port when it is made, in the service's start (`workers()`), so that a port in
    use fails the start before the service reports ready; `run` is started at once after, and
    closes the socket however it ends."""

    def __init__(self, routes: list[Route], host: str, port: int) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
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

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    async def run(self, stop: asyncio.Event) -> None:
        with self._socket:
            serving = asyncio.create_task(self._server.serve(sockets=[self._socket]))
            stopped = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._server.should_exit = True
                stopped.cancel()
                await asyncio.gather(serving, stopped, return_exceptions=True)
            serving.result()
