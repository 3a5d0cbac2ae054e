"""What the generated query modules (`*_queries.py`, `make queries`) run their SQL on: an asyncpg
Connection or Pool, or anything else with the same four calls; and a recorder, for the statement
a typed call sends without sending it (EXPLAIN in tests and benchmarks)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol


class Executor(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...


class StatementRecorder:
    """An Executor that runs nothing: it keeps the statement and parameters it is sent, and
    answers as an empty result would."""

    def __init__(self) -> None:
        self.sent: tuple[str, tuple[Any, ...]] | None = None

    def _keep(self, query: str, args: tuple[Any, ...]) -> None:
        self.sent = (query, args)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self._keep(query, args)
        return []

    async def fetchrow(self, query: str, *args: Any) -> Any:
        self._keep(query, args)
        return None

    async def fetchval(self, query: str, *args: Any) -> Any:
        self._keep(query, args)
        return None

    async def execute(self, query: str, *args: Any) -> str:
        self._keep(query, args)
        return ""


async def statement_of(
    call: Callable[[Executor], Awaitable[object]],
) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters `call` sends through its executor, by name as the typed
    function takes them and in the `$n` order Postgres takes them:
    `await statement_of(lambda c: q.claim_initials(c, campaign_id=1, ...))`."""
    recorder = StatementRecorder()
    # A `:one` or non-null `:scalar` function refuses the empty answer after sending.
    with contextlib.suppress(LookupError):
        await call(recorder)
    if recorder.sent is None:
        raise AssertionError("the call sent no statement")
    return recorder.sent
