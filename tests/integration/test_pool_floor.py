"""The pool floor (migrations 0002 and 0006, services/assigner/pool_floor.py): raised by the
keeper to the first row still in the pool, lowered by the database whenever a row enters the pool
below it, and never raised past a row that is entering the pool at that moment. One floor per
zone group; these campaigns have one group, so its floor is the campaign's lowest."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest

from services.assigner import claims_queries as claims
from services.assigner.pool_floor import EMPTY_POOL_FLOOR, PoolFloorKeeper
from shared.contract import catalogue as api
from shared.runtime.query_executor import statement_of
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


async def _campaign(conn: asyncpg.Connection, conversations: int) -> tuple[int, int]:
    org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
    texter = await conn.fetchval("INSERT INTO app_user (name) VALUES ('t') RETURNING id")
    campaign = await conn.fetchval(
        "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'c', 300) RETURNING id", org
    )
    await conn.execute(
        """INSERT INTO contact (campaign_id, phone)
           SELECT $1, '+1415' || lpad(g::text, 7, '0') FROM generate_series(1, $2) g""",
        campaign, conversations,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO conversation (campaign_id, contact_id) SELECT campaign_id, id FROM contact"
        " WHERE campaign_id = $1",
        campaign,
    )
    return campaign, texter


async def _claim_all_but(conn: asyncpg.Connection, campaign: int, texter: int, left: int) -> None:
    await conn.execute(
        """UPDATE conversation SET assignee_id = $2
           WHERE campaign_id = $1 AND id <= (SELECT max(id) - $3 FROM conversation
                                             WHERE campaign_id = $1)""",
        campaign, texter, left,
    )  # fmt: skip


async def _floor(pool: asyncpg.Pool, campaign: int) -> int:
    return int(await pool.fetchval(
        "SELECT min(pool_floor_id) FROM campaign_zone_group WHERE campaign_id = $1", campaign
    ))  # fmt: skip


async def _first_in_pool(pool: asyncpg.Pool, campaign: int) -> int | None:
    return await pool.fetchval(  # type: ignore[no-any-return]
        """SELECT min(id) FROM conversation
           WHERE campaign_id = $1 AND assignee_id IS NULL AND status = 'not_started'""",
        campaign,
    )


async def test_the_keeper_raises_the_floor_to_the_first_row_in_the_pool(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        campaign, texter = await _campaign(conn, 2000)
        await _claim_all_but(conn, campaign, texter, 150)
    keeper = PoolFloorKeeper(pool)
    assert await keeper.raise_floor(campaign) == await _first_in_pool(pool, campaign)
    assert await _floor(pool, campaign) == await _first_in_pool(pool, campaign)
    async with pool.acquire() as conn:
        await _claim_all_but(conn, campaign, texter, 0)
    assert await keeper.raise_floor(campaign) == EMPTY_POOL_FLOOR


async def test_every_way_into_the_pool_lowers_the_floor(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        campaign, texter = await _campaign(conn, 500)
        await _claim_all_but(conn, campaign, texter, 0)
    keeper = PoolFloorKeeper(pool)
    assert await keeper.raise_floor(campaign) == EMPTY_POOL_FLOOR
    # A release (any UPDATE that leaves a row Unassigned and not started).
    released = await pool.fetchval(
        """UPDATE conversation SET assignee_id = NULL
           WHERE id = (SELECT min(id) + 100 FROM conversation WHERE campaign_id = $1) RETURNING id""",
        campaign,
    )
    assert await _floor(pool, campaign) == released
    # A lower one after it lowers it further; a higher one leaves it.
    await pool.execute(
        "UPDATE conversation SET assignee_id = NULL WHERE id IN ($1, $2)",
        released - 50,
        released + 50,
    )
    assert await _floor(pool, campaign) == released - 50
    # An import into a drained campaign.
    await pool.execute(
        "UPDATE conversation SET assignee_id = $2 WHERE campaign_id = $1", campaign, texter
    )
    assert await keeper.raise_floor(campaign) == EMPTY_POOL_FLOOR
    async with pool.acquire() as conn:
        contact = await conn.fetchval(
            "INSERT INTO contact (campaign_id, phone) VALUES ($1, '+14155559999') RETURNING id",
            campaign,
        )
        imported = await conn.fetchval(
            "INSERT INTO conversation (campaign_id, contact_id) VALUES ($1, $2) RETURNING id",
            campaign, contact,
        )  # fmt: skip
    assert await _floor(pool, campaign) == imported


async def test_a_raise_never_passes_a_row_entering_the_pool(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        campaign, texter = await _campaign(conn, 1000)
        await _claim_all_but(conn, campaign, texter, 100)
    keeper = PoolFloorKeeper(pool)
    low = int(
        await pool.fetchval("SELECT min(id) FROM conversation WHERE campaign_id = $1", campaign)
    )
    async with pool.acquire() as releasing, pool.acquire() as raising:
        # Rows entering the pool, not yet committed: the keeper must leave this campaign alone.
        never_raised = await _floor(pool, campaign)
        async with releasing.transaction():
            await releasing.execute("UPDATE conversation SET assignee_id = NULL WHERE id = $1", low)
            assert await keeper.raise_floor(campaign) is None
        assert await _floor(pool, campaign) == never_raised == low
        # A raise in flight (to the first row in the pool, `low` taken again first): a release
        # that comes meanwhile waits for it, then lowers the floor it left.
        await pool.execute("UPDATE conversation SET assignee_id = $2 WHERE id = $1", low, texter)
        first = await _first_in_pool(pool, campaign)
        assert first is not None and first > low + 1
        async with raising.transaction():
            locked = "SELECT pg_try_advisory_xact_lock(pool_floor_lock_key($1))"
            assert await raising.fetchval(locked, campaign)
            await raising.execute(
                "UPDATE campaign_zone_group SET pool_floor_id = $2 WHERE campaign_id = $1",
                campaign, first,
            )  # fmt: skip
            release = asyncio.create_task(releasing.execute(
                "UPDATE conversation SET assignee_id = NULL WHERE id = $1", low + 1
            ))  # fmt: skip
            await asyncio.sleep(0.3)
            assert not release.done()  # waiting for the raise
        await release
    assert await _floor(pool, campaign) == await _first_in_pool(pool, campaign) == low + 1


async def test_a_drained_campaigns_empty_pool_check_starts_at_the_floor(pool: asyncpg.Pool) -> None:
    """The end of a big drain: 'is the pool empty?' reads a few pages, not every dead entry
    (from the floor), nor the whole table (a sequential scan it chose with stale statistics)."""
    async with pool.acquire() as conn:
        campaign, texter = await _campaign(conn, 60000)
        # Statistics from the campaign's start, as in a drain faster than autovacuum's ANALYZE:
        # the planner believes the pool is full (with EXISTS it chose a sequential scan).
        await conn.execute("ANALYZE conversation")
        await _claim_all_but(conn, campaign, texter, 0)
    floor = await PoolFloorKeeper(pool).raise_floor(campaign)
    assert floor == EMPTY_POOL_FLOOR
    sql, args = await statement_of(lambda c: claims.pooled_initials_groups(c, campaign_id=campaign))
    explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql
    async with pool.acquire() as conn, conn.transaction():
        plan: Any = json.loads(await conn.fetchval(explain, *args))
        # The same check had the floor never been raised.
        await conn.execute(
            "UPDATE campaign_zone_group SET pool_floor_id = 0 WHERE campaign_id = $1", campaign
        )
        from_start: Any = json.loads(await conn.fetchval(explain, *args))
    assert _blocks(plan) < 20, plan
    assert _blocks(from_start) > 100, from_start  # what every last request used to read


def _blocks(plan: Any) -> int:
    top = plan[0]["Plan"]
    return int(top["Shared Hit Blocks"] + top["Shared Read Blocks"])


async def test_rows_released_below_a_raised_floor_are_handed_out_again(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    setup = await campaign_with_texters(assigner, texters=3, contacts=40, batch_size=20)
    campaign, (first, second, third) = setup["campaign"], setup["texters"]
    for texter in (first, second):
        batch = await assigner.call(api.ASSIGN_REQUEST, campaign_id=campaign, as_user=texter)
        assert batch["count"] == 20

    async def floor_is_empty() -> bool:
        return await _floor(pool, campaign) == EMPTY_POOL_FLOOR

    await eventually(floor_is_empty, within=10)  # the assigner's keeper raised it
    moved = await assigner.call(api.REASSIGN, as_user=setup["owner"], campaign_id=campaign,
                                from_texter_id=first, status="not_started", to_texter_ids=[], confirm=True)  # fmt: skip
    assert moved["moved"] == 20
    batch = await assigner.call(api.ASSIGN_REQUEST, campaign_id=campaign, as_user=third)
    assert batch["count"] == 20
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM assignment_move WHERE operation_id = $1",
            uuid.UUID(moved["operation_id"]),
        )
        == 20
    )


async def test_each_zone_group_keeps_its_own_floor(pool: asyncpg.Pool) -> None:
    """Honolulu's conversations wait at the front of the pool through its night while
    Washington's drain: Washington's floor still rises past its own dead entries (a
    campaign-wide floor would stay at Honolulu's first row)."""
    async with pool.acquire() as conn:
        campaign, texter = await _campaign(conn, 0)
        for prefix in ("+1808", "+1202"):
            await conn.execute(
                """INSERT INTO contact (campaign_id, phone)
                   SELECT $1, $2 || lpad(g::text, 7, '0') FROM generate_series(1, 500) g""",
                campaign, prefix,
            )  # fmt: skip
        await conn.execute(
            """INSERT INTO conversation (campaign_id, contact_id)
               SELECT campaign_id, id FROM contact WHERE campaign_id = $1 ORDER BY id""",
            campaign,
        )
        await conn.execute(
            """UPDATE conversation v SET assignee_id = $2 FROM contact k
               WHERE k.id = v.contact_id AND v.campaign_id = $1 AND k.phone LIKE '+1202%'""",
            campaign, texter,
        )  # fmt: skip
    first = await _first_in_pool(pool, campaign)
    assert await PoolFloorKeeper(pool).raise_floor(campaign) == first
    floors = await pool.fetch(
        """SELECT g.zones, z.pool_floor_id FROM campaign_zone_group z
           JOIN zone_group g ON g.id = z.zone_group WHERE z.campaign_id = $1""",
        campaign,
    )
    assert {tuple(f["zones"]): f["pool_floor_id"] for f in floors} == {
        ("Pacific/Honolulu",): first, ("America/New_York",): EMPTY_POOL_FLOOR
    }  # fmt: skip
