"""shared/runtime/sql/schema.sql is the schema the migrations make: a reader sees every table in one
file, and a migration without `make schema` fails here."""

from __future__ import annotations

import difflib

from tests.support.schema import SCHEMA_FILE, dump_schema


def test_the_schema_file_is_what_the_migrations_make(database_url: str) -> None:
    dumped = dump_schema(database_url)
    written = SCHEMA_FILE.read_text()
    assert "CREATE TABLE public.conversation" in dumped
    diff = "".join(
        difflib.unified_diff(
            written.splitlines(keepends=True),
            dumped.splitlines(keepends=True),
            "shared/runtime/sql/schema.sql",
            "the migrations",
        )
    )
    assert not diff, f"shared/runtime/sql/schema.sql is out of date: run `make schema`\n{diff}"
