"""tools/sql_codegen.py's typing rules, on a table made for the purpose: a NOT NULL column read
straight is non-optional, the same column through an outer join or an expression is optional
unless `-- not null:` says so, a nullable parameter is `T | None`, and what cannot be typed
soundly stops the generator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import psycopg
import pytest

from shared.runtime.queries import parse_named_queries
from tests.support.databases import clone_database, drop_database, with_database
from tests.support.servers import ServerSet
from tools.sql_codegen import CodegenError, Typed, render, type_query

pytestmark = pytest.mark.integration

SQL = """
-- name: straight :many --
SELECT id, label, note FROM codegen_probe WHERE id > :after_id;

-- name: outer :many --
SELECT p.id, q.label FROM codegen_probe p LEFT JOIN codegen_probe q ON q.id = p.id + 1;

-- name: computed :maybe --
-- not null: total
SELECT count(*) AS total, max(id) AS highest, EXISTS (SELECT 1) AS yes FROM codegen_probe
WHERE (:label?::text IS NULL OR label = :label?) AND id = ANY(:ids::bigint[]);

-- name: counted :scalar --
-- not null: count
SELECT count(*) FROM codegen_probe;

-- name: maybe_id :scalar --
SELECT id FROM codegen_probe WHERE label = :label;

-- name: unnamed :many --
SELECT id, id + 1 FROM codegen_probe;

-- name: untyped :scalar --
SELECT id FROM codegen_probe WHERE :spot::point IS NOT NULL;
"""


Connections = tuple[asyncpg.Connection, psycopg.Connection]


@pytest.fixture
async def typing_connections(
    servers: ServerSet, template_database: str
) -> AsyncIterator[Connections]:
    name = await clone_database(servers.postgres_url, template_database)
    url = with_database(servers.postgres_url, name)
    conn = await asyncpg.connect(url)
    await conn.execute(
        "CREATE TABLE codegen_probe (id bigint PRIMARY KEY, label text NOT NULL, note text)"
    )
    described = psycopg.connect(url)
    try:
        yield conn, described
    finally:
        described.close()
        await conn.close()
        await drop_database(servers.postgres_url, name)


async def _typed(connections: Connections, name: str) -> Typed:
    conn, described = connections
    query = parse_named_queries(SQL, "probe.sql")[name]
    try:
        return await type_query(conn, described, "probe.sql", query, "SELECT 1", set())
    finally:
        described.rollback()


def _columns(typed: Typed) -> dict[str, str]:
    return {c.name: c.annotation + (" | None" if c.nullable else "") for c in typed.columns}


async def test_a_not_null_column_read_straight_is_not_optional(
    typing_connections: Connections,
) -> None:
    typed = await _typed(typing_connections, "straight")
    assert _columns(typed) == {"id": "int", "label": "str", "note": "str | None"}
    assert typed.params == (("after_id", "int"),)


async def test_an_outer_join_makes_every_column_optional(typing_connections: Connections) -> None:
    typed = await _typed(typing_connections, "outer")
    assert _columns(typed) == {"id": "int | None", "label": "str | None"}


async def test_expressions_are_optional_unless_the_query_says_not_null(
    typing_connections: Connections,
) -> None:
    typed = await _typed(typing_connections, "computed")
    assert _columns(typed) == {"total": "int", "highest": "int | None", "yes": "bool | None"}
    assert typed.params == (("label", "str"), ("ids", "list[int]"))
    source = render(Path("probe.sql"), [typed], set())
    assert "label: str | None, ids: Sequence[int | None]" in source
    assert "-> ComputedRow | None:" in source


async def test_a_scalar_is_optional_unless_declared_to_always_return_its_row(
    typing_connections: Connections,
) -> None:
    counted = await _typed(typing_connections, "counted")
    maybe_id = await _typed(typing_connections, "maybe_id")
    assert not counted.columns[0].nullable
    # A NOT NULL column, but no row gives None too.
    assert maybe_id.columns[0].nullable
    source = render(Path("probe.sql"), [counted, maybe_id], set())
    assert "async def counted(conn: Executor) -> int:" in source
    assert 'raise LookupError("counted: no row, or NULL")' in source
    assert "-> int | None:" in source


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("unnamed", "column '\\?column\\?' needs a name"),
        ("untyped", "parameter :spot: Postgres type 'point' has no Python type"),
    ],
)
async def test_what_cannot_be_typed_soundly_stops_the_generator(
    typing_connections: Connections, name: str, problem: str
) -> None:
    with pytest.raises(CodegenError, match=problem):
        await _typed(typing_connections, name)
