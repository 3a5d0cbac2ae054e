"""Per-test databases cloned from one migrated template (`CREATE DATABASE t TEMPLATE tpl`).

Migrating once and cloning is a file copy: each test starts from a fresh, correct schema in a
few milliseconds instead of re-running every migration.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.runtime.migrations import available_migrations, migrate_database

_counter = itertools.count(1)


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


async def create_template(admin_url: str) -> str:
    name = f"baton_template_{os.getpid()}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    await migrate_database(with_database(admin_url, name))
    return name


# The clone strategy of each server (by its URL), asked once per process: its fsync setting does
# not change under a running suite.
_strategies: dict[str, str] = {}


async def _clone_strategy(conn: asyncpg.Connection, admin_url: str) -> str:
    """A file copy is cheaper than the default (WAL-logging every block) where the server does
    not fsync, as the tests' own servers do not: about a third less per test, both to create and
    to drop. Where it fsyncs, its two checkpoints cost more than the WAL."""
    if admin_url not in _strategies:
        fsync = await conn.fetchval("SELECT current_setting('fsync')")
        _strategies[admin_url] = "FILE_COPY" if fsync == "off" else "WAL_LOG"
    return _strategies[admin_url]


async def clone_database(admin_url: str, template: str) -> str:
    name = f"baton_test_{os.getpid()}_{next(_counter)}"
    conn = await asyncpg.connect(admin_url)
    try:
        strategy = await _clone_strategy(conn, admin_url)
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY {strategy}')
    finally:
        await conn.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def migrate_below(conn: asyncpg.Connection, version: int) -> None:
    """Apply the migrations before `version` only, as a database from before it was made."""
    await conn.execute("CREATE TABLE schema_migration (version integer PRIMARY KEY,"
                       " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")  # fmt: skip
    for migration in available_migrations():
        if migration.version < version:
            await conn.execute(migration.sql)
            await conn.execute("INSERT INTO schema_migration (version, name) VALUES ($1, $2)",
                               migration.version, migration.name)  # fmt: skip


@contextlib.contextmanager
def empty_database(server_url: str, prefix: str) -> Iterator[str]:
    """A database with no schema, for a process to migrate itself; dropped after (sync: for
    tests that drive processes, outside any event loop)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(server_url, name)
    finally:
        asyncio.run(run(f'DROP DATABASE "{name}" WITH (FORCE)'))
