"""shared/runtime/sql/schema.sql: the schema as the migrations leave it, in one file for a reader.

Dumped with the pip-shipped `pg_dump` (the same on every machine that runs the tests), with the
lines that change from run to run or from server to server taken out. tests/integration/
test_schema_file.py compares it with a fresh dump; `make schema` writes it again after a
migration.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from tools.devservers.postgres import postgres_bin_dir

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "shared" / "runtime" / "sql" / "schema.sql"
HEADER = (
    "-- The schema as shared/runtime/sql/migrations leave it, for reading: the migrations are the truth.\n"
    "-- Written by `make schema`; tests/integration/test_schema_file.py checks it is current.\n"
)
# pg_dump's session settings, its version banner and its per-run \restrict key.
_NOISE = re.compile(r"^(SET |SELECT pg_catalog\.set_config|\\restrict |\\unrestrict |-- Dumped )")


def dump_schema(database_url: str) -> str:
    dumped = subprocess.run(
        [
            str(postgres_bin_dir() / "pg_dump"),
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            database_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    kept = [line for line in dumped.splitlines() if not _NOISE.match(line)]
    # Runs of blank lines left where the noise was become one.
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return HEADER + "\n" + text + "\n"


def main() -> None:
    """Migrate a database of its own on a pip-shipped Postgres and write the file from it."""
    from tests.support.databases import create_template, drop_database, with_database
    from tests.support.servers import start_test_servers

    with start_test_servers() as found:
        name = asyncio.run(create_template(found.postgres_url))
        try:
            SCHEMA_FILE.write_text(dump_schema(with_database(found.postgres_url, name)))
        finally:
            asyncio.run(drop_database(found.postgres_url, name))
    print(f"wrote {SCHEMA_FILE}", file=sys.stderr)


if __name__ == "__main__":
    main()
