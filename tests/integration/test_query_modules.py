"""The typed query modules (`*_queries.py`) are what `make queries` writes from today's `.sql`
files and today's schema: generated again here on the migrated template and compared."""

from __future__ import annotations

import pytest

from tests.support.databases import clone_database, drop_database, with_database
from tests.support.servers import ServerSet
from tools.sql_codegen import ROOT, generate, module_path, sql_files

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
async def test_every_query_module_is_current(servers: ServerSet, template_database: str) -> None:
    name = await clone_database(servers.postgres_url, template_database)
    try:
        modules = await generate(with_database(servers.postgres_url, name))
    finally:
        await drop_database(servers.postgres_url, name)
    assert set(modules) == {module_path(path) for path in sql_files()}
    stale = [
        str(path.relative_to(ROOT))
        for path, source in modules.items()
        if not path.exists() or path.read_text(encoding="utf-8") != source
    ]
    assert not stale, f"run `make queries`: {stale} differ from what the .sql files give"
