"""What the generated query modules (`*_queries.py`, `make queries`) run their SQL on: an asyncpg
Connection or Pool, or anything else with the same four calls."""

from __future__ import annotations

from typing import Any, Protocol


class Executor(Protocol):
    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...
