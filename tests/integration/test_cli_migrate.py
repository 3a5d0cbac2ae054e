from __future__ import annotations

import asyncpg
import pytest

from shared.runtime.commands import exit_codes
from shared.runtime.migrations import latest_version
from tools.cli.main import main

pytestmark = pytest.mark.integration


async def test_baton_migrate_on_a_current_schema_applies_nothing(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", database_url)
    import asyncio

    code = await asyncio.to_thread(main, ["migrate"])
    assert code == exit_codes.OK
    assert "nothing; the schema is current" in capsys.readouterr().out
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT max(version) FROM schema_migration") == latest_version()
    finally:
        await conn.close()


def test_baton_migrate_without_a_database_is_a_dependency_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    assert main(["migrate"]) == exit_codes.DEPENDENCY
    assert "baton migrate:" in capsys.readouterr().err
