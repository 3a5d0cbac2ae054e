"""Postgres restarted under a running service: requests get a clear `unavailable` meanwhile,
succeed after, and nothing is half-applied."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import nats
import pytest

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from shared.contract import catalogue as api
from shared.contract.errors import BatonError
from shared.runtime.migrations import migrate_database
from tests.support.baton_client import OPERATOR, Baton
from tests.support.services import running
from tests.support.waiting import eventually
from tools.devservers.postgres import LocalPostgres

pytestmark = pytest.mark.acceptance


async def test_requests_are_unavailable_while_postgres_is_down_and_fine_after(
    tmp_path: Path, nats_url: str
) -> None:
    server = LocalPostgres(tmp_path / "pg", durable=False)
    await asyncio.to_thread(server.start)
    try:
        await migrate_database(server.url)
        settings = AssignerSettings(database_url=server.url, nats_url=nats_url, db_pool_min=1)
        async with running(ASSIGNER, settings):
            nc = await nats.connect(nats_url)
            baton = Baton(nc, timeout=20)
            await baton.call(api.ORG_CREATE, as_user=OPERATOR, name="Before")
            await asyncio.to_thread(server.stop)
            refusal = await baton.error(api.ORG_CREATE, as_user=OPERATOR, name="During")
            assert refusal.code == "unavailable"
            await asyncio.to_thread(server.start)

            async def works() -> bool:
                try:
                    await baton.call(api.ORG_CREATE, as_user=OPERATOR, name="After")
                    return True
                except BatonError as exc:
                    assert exc.code == "unavailable", exc
                    return False

            await eventually(works, within=30)
            await nc.close()
        conn = await asyncpg.connect(server.url)
        try:
            names = [
                r["name"] for r in await conn.fetch("SELECT name FROM organization ORDER BY id")
            ]
        finally:
            await conn.close()
        assert names == ["Before", "After"]  # "During" left no trace
    finally:
        await asyncio.to_thread(server.stop)
