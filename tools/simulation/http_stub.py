"""What the provider simulators share: a real aiohttp server on a port of its own, started and
stopped with the simulator; errors chosen per destination number; and the connections its
webhooks go out on."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from aiohttp import ClientSession, ClientTimeout, web


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
    """An aiohttp application served on 127.0.0.1; subclasses add their routes. Its webhooks go
    out through `outgoing`, opened and closed with it."""

    # How long the provider waits for a webhook's answer; the simulator's own wait as long.
    webhook_patience_seconds: ClassVar[float] = 15.0
    _runner: web.AppRunner | None = None
    _port: int = 0
    outgoing: Outgoing = field(init=False)

    def __post_init__(self) -> None:
        self.outgoing = Outgoing(self.webhook_patience_seconds)

    @property
    def control_url(self) -> str:
        """Where the control routes are (tools/simulation/control_routes.py): the server's
        root."""
        return f"http://127.0.0.1:{self._port}"

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
        self.outgoing.open()

    async def stop(self) -> None:
        await self.outgoing.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()


@dataclass
class Outgoing:
    """What a simulator sends the bridge: status events, reported in the background, and
    contacts' texts, on connections of their own so that a contact's text never waits behind
    thousands of status events to a bridge that is slow to answer them; each given up on after
    the provider's patience."""

    patience_seconds: float
    statuses: ClientSession | None = None
    contacts: ClientSession | None = None
    _reporting: set[asyncio.Task[None]] = field(default_factory=set)

    def open(self) -> None:
        timeout = ClientTimeout(total=self.patience_seconds)
        self.statuses = ClientSession(timeout=timeout)
        self.contacts = ClientSession(timeout=timeout)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._reporting.add(task)
        task.add_done_callback(self._reporting.discard)

    async def close(self) -> None:
        for task in list(self._reporting):
            task.cancel()
        await asyncio.gather(*self._reporting, return_exceptions=True)
        for session in (self.statuses, self.contacts):
            if session is not None:
                await session.close()
