"""Numbered `.sql` migrations, applied in order, all in one transaction under an advisory lock.

Several replicas starting at once are safe: the transaction-scoped advisory lock makes the
others wait, and when they get it they find every migration already recorded.

After the migrations, under the same lock, the phone-prefix zone table is brought up to the
installed `phonenumbers` (shared/runtime/phone_zones.py): reference data that follows the library,
not the schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from shared.runtime.database import Connection
from shared.runtime.phone_zones import load_phone_zones

MIGRATIONS_PACKAGE = "shared.runtime.sql.migrations"
# An arbitrary, fixed key: every Baton process that migrates takes this same lock.
MIGRATION_LOCK_KEY = 0x0BA7_0001
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    found: list[Migration] = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def latest_version() -> int:
    return len(available_migrations())


async def migrate(conn: Connection) -> list[Migration]:
    """Apply every pending migration; return the ones this call applied."""
    applied_now: list[Migration] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migration (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migration")}
        for migration in available_migrations():
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migration (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied_now.append(migration)
        await load_phone_zones(conn)
    return applied_now


async def migrate_database(url: str) -> list[str]:
    """Connect to `url`, apply what is pending, and name what was applied ("0001_schema")."""
    conn = await asyncpg.connect(url)
    try:
        return [f"{m.version:04d}_{m.name}" for m in await migrate(conn)]
    finally:
        await conn.close()


async def current_version(conn: Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migration') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migration"))
