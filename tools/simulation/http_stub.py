"""What the provider simulators share: a real aiohttp server on a port of its own, started and
stopped with the simulator, and errors chosen per destination number."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Self

from aiohttp import web


@dataclass
class Failure:
    code: int
    status: int
    # How many more requests to this number get the error; None: all of them.
    remaining: int | None


@dataclass
class FailuresByNumber:
    _failures: dict[str, Failure] = field(default_factory=dict)

    def set(self, to: str, code: int, status: int, times: int | None) -> None:
        self._failures[to] = Failure(code, status, times)

    def next(self, to: str) -> Failure | None:
        """The error this request to `to` gets, if any (counting it)."""
        failure = self._failures.get(to)
        if failure is None or failure.remaining == 0:
            return None
        if failure.remaining is not None:
            failure.remaining -= 1
        return failure


@dataclass
class StubServer:
    """An aiohttp application served on 127.0.0.1; subclasses add their routes."""

    _runner: web.AppRunner | None = None
    _port: int = 0

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(("127.0.0.1", port))
        await web.SockSite(self._runner, listening).start()
        self._port = int(listening.getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
