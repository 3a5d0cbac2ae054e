"""`make queries`: a typed Python module for each `.sql` file of named queries (like sqlc).

Each query is prepared on a database the migrations built. Postgres says the type of every
parameter and result column (asyncpg's `get_parameters()` / `get_attributes()`), and, through
libpq's Describe (psycopg's `ftable`/`ftablecol`: asyncpg keeps the RowDescription's table oid
and attribute number to itself), which table column each result column comes straight from. A
column is non-optional when that table column is NOT NULL and the query has no outer join (which
could leave it NULL), or when the query says so (`-- not null: col`); every other column is
`T | None`. A parameter is `T`, or `T | None` when the SQL marks it `:name?`. A type this file
does not know, or a parameter Postgres cannot type, stops the generator: never a silent `Any`.

`X.sql` gives `X_queries.py` beside it (`queries.sql` gives `queries.py`).
tests/integration/test_query_modules.py generates them again and compares.
"""

from __future__ import annotations

import asyncio
import keyword
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg

from shared.runtime.queries import NamedQuery, parse_named_queries

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "shared" / "runtime" / "sql"
# The contact import's queries read the temp table its transaction makes first.
STAGING = ("services/assigner/queries.sql", "create_import_staging")

# Postgres type name -> (Python annotation, module it needs).
TYPES: dict[str, tuple[str, str | None]] = {
    "int2": ("int", None),
    "int4": ("int", None),
    "int8": ("int", None),
    "oid": ("int", None),
    "text": ("str", None),
    "varchar": ("str", None),
    "bpchar": ("str", None),
    "name": ("str", None),
    "bool": ("bool", None),
    "float4": ("float", None),
    "float8": ("float", None),
    "numeric": ("decimal.Decimal", "decimal"),
    "timestamptz": ("datetime.datetime", "datetime"),
    "timestamp": ("datetime.datetime", "datetime"),
    "date": ("datetime.date", "datetime"),
    "time": ("datetime.time", "datetime"),
    "interval": ("datetime.timedelta", "datetime"),
    "uuid": ("uuid.UUID", "uuid"),
    # No codec is set on Baton's connections: JSON travels as its text.
    "json": ("str", None),
    "jsonb": ("str", None),
    "bytea": ("bytes", None),
    "void": ("None", None),
}


# The names a generated function uses besides its parameters.
LOCALS = {"conn", "record", "value", "r"}


class CodegenError(Exception):
    """A query the generator cannot type soundly."""


@dataclass(frozen=True)
class Column:
    name: str
    annotation: str
    nullable: bool


@dataclass(frozen=True)
class Typed:
    query: NamedQuery
    params: tuple[tuple[str, str], ...]  # (name, annotation without the None)
    columns: tuple[Column, ...]


def sql_files(root: Path = ROOT) -> list[Path]:
    """Every `.sql` file of named queries Baton ships: not the migrations, not schema.sql."""
    found = [*root.glob("shared/**/*.sql"), *root.glob("services/**/*.sql")]
    return sorted(p for p in found if MIGRATIONS not in p.parents)


def module_path(sql_file: Path) -> Path:
    stem = sql_file.stem
    return sql_file.with_name("queries.py" if stem == "queries" else f"{stem}_queries.py")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _python_type(type_: asyncpg.types.Type, where: str, imports: set[str]) -> str:
    if type_.kind == "array":
        element = TYPES.get(type_.name.removesuffix("[]").removeprefix("_"))
        wrap = "list[{}]"
    else:
        element = TYPES.get(type_.name)
        wrap = "{}"
    if element is None or type_.name in ("unknown", "_unknown"):
        raise CodegenError(f"{where}: Postgres type {type_.name!r} has no Python type here")
    annotation, module = element
    if module:
        imports.add(module)
    return wrap.format(annotation)


_OUTER_JOIN = re.compile(r"\b(LEFT|RIGHT|FULL)\s+(OUTER\s+)?JOIN\b", re.IGNORECASE)


async def type_query(
    conn: asyncpg.Connection,
    described: psycopg.Connection,
    source: str,
    query: NamedQuery,
    staging: str,
    imports: set[str],
) -> Typed:
    where = f"{source}:{query.name}"
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(staging)
        statement = await conn.prepare(query.sql)
        parameters = statement.get_parameters()
        attributes = statement.get_attributes()
    except asyncpg.PostgresError as error:
        raise CodegenError(f"{where}: {error}") from error
    finally:
        await transaction.rollback()
    if len(parameters) != len(query.params):
        raise CodegenError(f"{where}: {len(parameters)} parameters, {len(query.params)} named")
    clashes = sorted(set(query.params) & LOCALS)
    if clashes:
        raise CodegenError(f"{where}: parameters {clashes} clash with the function's own names")
    params = tuple(
        (name, _python_type(type_, f"{where} parameter :{name}", imports))
        for name, type_ in zip(query.params, parameters, strict=True)
    )
    origins = _origins(described, query.sql)
    columns: list[Column] = []
    for attribute, (table, number) in zip(attributes, origins, strict=True):
        name = attribute.name
        # A :scalar's column is returned alone: its name is never read.
        bad_name = not name.isidentifier() or keyword.iskeyword(name)
        if bad_name and query.kind != "scalar":
            raise CodegenError(f"{where}: column {name!r} needs a name (AS some_name)")
        if any(c.name == name for c in columns) and query.kind != "scalar":
            raise CodegenError(f"{where}: two columns named {name!r}")
        annotation = _python_type(attribute.type, f"{where} column {name}", imports)
        not_null = name in query.not_null or (
            query.kind != "scalar"
            and not _OUTER_JOIN.search(query.sql)
            and _column_not_null(described, table, number)
        )
        columns.append(Column(name, annotation, nullable=not not_null))
    unknown = set(query.not_null) - {c.name for c in columns}
    if unknown:
        raise CodegenError(f"{where}: '-- not null:' names no column {sorted(unknown)}")
    if query.kind == "scalar" and not columns:
        raise CodegenError(f"{where}: a :scalar query returns no column")
    return Typed(query, params, tuple(columns))


def _origins(described: psycopg.Connection, sql: str) -> list[tuple[int, int]]:
    """Each result column's table oid and attribute number (0, 0 when it is computed)."""
    pgconn = described.pgconn
    result = pgconn.prepare(b"", sql.encode())
    if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
        raise CodegenError((result.error_message or b"").decode())
    result = pgconn.describe_prepared(b"")
    return [(result.ftable(i), result.ftablecol(i)) for i in range(result.nfields)]


def _column_not_null(described: psycopg.Connection, table: int, number: int) -> bool:
    if not table or number <= 0:
        return False
    row = described.execute(
        "SELECT attnotnull FROM pg_attribute WHERE attrelid = %s AND attnum = %s",
        (table, number),
    ).fetchone()
    return bool(row and row[0])


def _literal(sql: str) -> str:
    """The SQL as the file shows it, when a triple-quoted string can hold it as it is."""
    if '"""' in sql or "\\" in sql or sql.endswith('"'):
        return repr(sql)
    return f'"""{sql}"""'


def _annotated(column: Column) -> str:
    return f"{column.annotation} | None" if column.nullable else column.annotation


def render(sql_file: Path, typed: Iterable[Typed], imports: set[str]) -> str:
    """The module's source, before `ruff format`."""
    queries = list(typed)
    lines = [
        f'"""Typed queries of {sql_file.name}: generated by `make queries` from'
        f" {sql_file.name}; do not edit.",
        "",
        "One function per named query, its parameters named as in the SQL (`:name`; `:name?`",
        "may be None), returning frozen msgspec rows built by position. A column is `T | None`",
        "unless it comes straight from a NOT NULL table column through no outer join, or the",
        "query says `-- not null: col` (a :scalar is non-optional only so: it may find no row).",
        "An array parameter's elements may be None; a result array's elements are typed as",
        "their element type (Postgres does not say whether one may be NULL).",
        'tools/sql_codegen.py explains how each type is found."""',
        "",
        "from __future__ import annotations",
        "",
    ]
    needs_sequence = any(a.startswith("list[") for t in queries for _, a in t.params)
    for module in sorted(imports):
        lines.append(f"import {module}")
    if needs_sequence:
        lines.append("from collections.abc import Sequence")
    lines += ["", "import msgspec", "", "from shared.runtime.query_executor import Executor", ""]
    for t in queries:
        q = t.query
        upper = q.name.upper()
        lines += ["", f"{upper}_SQL = {_literal(q.sql)}", ""]
        row = f"{_camel(q.name)}Row"
        if q.kind in ("many", "maybe", "one"):
            lines += ["", f"class {row}(msgspec.Struct, frozen=True):"]
            lines += [f"    {c.name}: {_annotated(c)}" for c in t.columns] or ["    pass"]
            lines.append("")
        params = []
        for name, annotation in t.params:
            if annotation.startswith("list["):
                # Any sequence, and elements may be NULL (Sequence is covariant: a list[int]
                # passes); what a NULL element means is the query's to say.
                annotation = f"Sequence[{annotation[5:-1]} | None]"
            optional = " | None" if name in q.nullable_params else ""
            params.append(f"{name}: {annotation}{optional}")
        signature = ", ".join(["conn: Executor", *(["*"] if params else []), *params])
        args = "".join(f", {name}" for name, _ in t.params)
        call = f"{upper}_SQL{args}"
        if q.kind == "many":
            returns = f"list[{row}]"
            body = [f"return [{row}(*r) for r in await conn.fetch({call})]"]
        elif q.kind == "maybe":
            returns = f"{row} | None"
            body = [
                f"record = await conn.fetchrow({call})",
                f"return None if record is None else {row}(*record)",
            ]
        elif q.kind == "one":
            returns = row
            body = [
                f"record = await conn.fetchrow({call})",
                "if record is None:",
                f'    raise LookupError("{q.name}: no row")',
                f"return {row}(*record)",
            ]
        elif q.kind == "scalar":
            first = t.columns[0]
            returns = _annotated(first)
            if first.nullable:
                body = [f"value: {returns} = await conn.fetchval({call})", "return value"]
            else:
                body = [
                    f"value: {returns} | None = await conn.fetchval({call})",
                    "if value is None:",
                    f'    raise LookupError("{q.name}: no row, or NULL")',
                    "return value",
                ]
        else:
            returns = "str"
            body = [f"return await conn.execute({call})"]
        lines += ["", f"async def {q.name}({signature}) -> {returns}:"]
        lines += [f"    {line}" for line in body]
        lines.append("")
    return "\n".join(lines) + "\n"


def ruff_format(source: str, filename: str) -> str:
    """The source as `ruff check --fix` (the imports) and `ruff format` leave it."""
    ruff = str(Path(sys.executable).with_name("ruff"))
    for command in (["check", "--fix-only", "--quiet"], ["format"]):
        source = subprocess.run(
            [ruff, *command, "--stdin-filename", filename, "-"],
            input=source,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return source


async def generate(database_url: str, root: Path = ROOT) -> dict[Path, str]:
    """Each `.sql` file's module source, keyed by the module's path."""
    parsed = {
        path: parse_named_queries(path.read_text(encoding="utf-8"), str(path.relative_to(root)))
        for path in sql_files(root)
    }
    staging = parsed[root / STAGING[0]][STAGING[1]].sql
    modules: dict[Path, str] = {}
    errors: list[str] = []
    conn = await asyncpg.connect(database_url)
    described = psycopg.connect(database_url, autocommit=False)
    try:
        for path, queries in parsed.items():
            source = str(path.relative_to(root))
            imports: set[str] = set()
            typed = []
            for query in queries.values():
                # Each in a transaction of its own, rolled back: the staging table goes with it.
                described.execute(staging)
                try:
                    typed.append(await type_query(conn, described, source, query, staging, imports))
                except CodegenError as error:
                    errors.append(str(error))
                finally:
                    described.rollback()
            target = module_path(path)
            modules[target] = ruff_format(render(path, typed, imports), str(target))
    finally:
        described.close()
        await conn.close()
    if errors:
        raise CodegenError("\n".join(errors))
    return modules


def main() -> None:
    """Migrate a database of its own (tests/support: BATON_TEST_DATABASE_URL, Docker or the
    pip-shipped Postgres) and write every module."""
    from tests.support.databases import create_template, drop_database, with_database
    from tests.support.servers import start_test_servers

    with start_test_servers() as found:
        name = asyncio.run(create_template(found.postgres_url))
        try:
            modules = asyncio.run(generate(with_database(found.postgres_url, name)))
        finally:
            asyncio.run(drop_database(found.postgres_url, name))
    for path, source in modules.items():
        path.write_text(source, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
