"""The servers `baton up` uses: those named by BATON_DATABASE_URL / BATON_NATS_URL, else real
Postgres and NATS started from the pip-shipped binaries with their data under `./.baton/`."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tools.devservers.nats import LocalNats
from tools.devservers.postgres import LocalPostgres

DATABASE_NAME = "baton"


@dataclass
class Stack:
    database_url: str
    nats_url: str
    postgres: LocalPostgres | None = None
    nats: LocalNats | None = None
    started: list[str] = field(default_factory=list)

    def servers(self) -> dict[str, LocalPostgres | LocalNats]:
        """The servers this stack started itself (none of those the environment named)."""
        started: dict[str, LocalPostgres | LocalNats] = {}
        if self.postgres is not None:
            started["postgres"] = self.postgres
        if self.nats is not None:
            started["nats-server"] = self.nats
        return started

    def stop(self) -> None:
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def ensure_database(server_url: str, database: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


def start_stack(data_dir: Path, pg_port: int, nats_port: int) -> Stack:
    database_url = os.environ.get("BATON_DATABASE_URL", "")
    nats_url = os.environ.get("BATON_NATS_URL", "")
    stack = Stack(database_url, nats_url)
    try:
        if not database_url:
            data_dir.mkdir(parents=True, exist_ok=True)
            stack.postgres = LocalPostgres(data_dir / "postgres", pg_port)
            server_url = stack.postgres.start()
            asyncio.run(ensure_database(server_url, DATABASE_NAME))
            stack.database_url = _with_database(server_url, DATABASE_NAME)
            stack.started.append(f"postgres (pip-shipped) {stack.database_url}")
        if not nats_url:
            data_dir.mkdir(parents=True, exist_ok=True)
            stack.nats = LocalNats(data_dir / "nats", nats_port)
            stack.nats_url = stack.nats.start()
            stack.started.append(f"nats-server (pip-shipped, JetStream) {stack.nats_url}")
    except BaseException:
        stack.stop()
        raise
    return stack
