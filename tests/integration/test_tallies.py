"""The campaign tallies (migration 0011) stay exact: after concurrent writers of every kind, a
crash mid-batch and folds running all along, every counter rebuilt from the rows
(`campaign_tally_recount`) equals the tally."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import nats
import pytest
from nats.aio.client import Client as NatsClient

from services.reaper import queries as reaper_queries
from services.reaper.service import DEFINITION as REAPER
from services.reaper.settings import ReaperSettings
from services.reaper.tallies import fold_tallies
from shared.runtime.client import BatonClient
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import SIGNER, Baton
from tests.support.services import running
from tools.simulation.run import render, simulate
from tools.simulation.scenario import Scenario

pytestmark = pytest.mark.integration

TALLIED = """SELECT campaign_id, counted, assignee_id, zone_group, sum(n)::bigint AS n
             FROM campaign_tally GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"""
RECOUNTED = """SELECT campaign_id, counted, assignee_id, zone_group, n::bigint
               FROM campaign_tally_recount WHERE n <> 0"""


async def _counts(pool: asyncpg.Pool, sql: str) -> dict[tuple[object, ...], int]:
    return {(r[0], r[1], r[2], r[3]): r["n"] for r in await pool.fetch(sql)}


async def _assert_exact(pool: asyncpg.Pool) -> dict[tuple[object, ...], int]:
    recounted = await _counts(pool, RECOUNTED)
    assert await _counts(pool, TALLIED) == recounted
    return recounted


async def _campaign(conn: asyncpg.Connection, size: int) -> tuple[int, list[int]]:
    """A campaign of `size` Unassigned conversations and 20 texters."""
    org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
    texters = [r["id"] for r in await conn.fetch(
        "INSERT INTO app_user (name) SELECT 't' || g FROM generate_series(1, 20) g RETURNING id")]  # fmt: skip
    campaign = await conn.fetchval(
        "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'c', 300) RETURNING id", org
    )
    await conn.execute(
        """INSERT INTO contact (campaign_id, phone)
           SELECT $1, '+1' || (2025550000 + g)::text FROM generate_series(1, $2) g""",
        campaign, size,
    )  # fmt: skip
    # Phones of several area codes, so the Unassigned rows spread over zone groups.
    await conn.execute(
        """INSERT INTO conversation (campaign_id, contact_id, zone_group)
           SELECT campaign_id, id, contact_zone_group(NULL, (ARRAY['+12025550100',
                  '+14155550100', '+18085550100', '+13125550100'])[id % 4 + 1])
           FROM contact WHERE campaign_id = $1""",
        campaign,
    )  # fmt: skip
    return campaign, texters


async def test_every_kind_of_statement_is_tallied(pool: asyncpg.Pool) -> None:
    """Insert, claim, status flips, zone change, failed initials sent and by receipt, deletes."""
    async with pool.acquire() as conn:
        campaign, texters = await _campaign(conn, 400)
        before = await _assert_exact(pool)
        assert sum(n for key, n in before.items() if key[1] == "not_started") == 400
        await conn.execute(
            "UPDATE conversation SET assignee_id = $2 WHERE campaign_id = $1 AND id % 3 = 0",
            campaign, texters[0],
        )  # fmt: skip
        await conn.execute(
            """UPDATE conversation SET status = 'needs_reply', needs_reply_since = now()
               WHERE campaign_id = $1 AND id % 5 = 0""",
            campaign,
        )  # fmt: skip
        await conn.execute(
            "UPDATE conversation SET zone_group = contact_zone_group(NULL, '+19075550100')"
            " WHERE campaign_id = $1 AND id % 7 = 0",
            campaign,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO message (conversation_id, direction, kind, texter_id, body,
                                    delivery_status)
               SELECT id, 'outbound', 'initial', $2, 'Hi',
                      CASE WHEN id % 2 = 0 THEN 'failed' ELSE 'sent' END
               FROM conversation WHERE campaign_id = $1 AND id % 3 = 0""",
            campaign, texters[0],
        )  # fmt: skip
        await conn.execute("UPDATE message SET delivery_status = 'failed' WHERE id % 4 = 1")
        await conn.execute("UPDATE message SET delivery_status = 'delivered' WHERE id % 8 = 0")
        failed = await conn.fetchval(
            "SELECT count(*) FROM message WHERE kind = 'initial' AND delivery_status = 'failed'"
        )
        after = await _assert_exact(pool)
        assert after[(campaign, "failed_initials", None, None)] == failed > 0
        assert after != before
        await fold_tallies(pool)
        assert await _assert_exact(pool) == after
        assert await conn.fetchval("SELECT count(*) FROM campaign_tally WHERE NOT folded") == 0
        await conn.execute("DELETE FROM message WHERE id % 2 = 0")
        await conn.execute(
            "DELETE FROM conversation v WHERE id % 11 = 0"
            " AND NOT EXISTS (SELECT 1 FROM message m WHERE m.conversation_id = v.id)"
        )
        await _assert_exact(pool)


async def test_the_writes_the_tally_cannot_follow_are_refused_and_change_nothing(
    pool: asyncpg.Pool,
) -> None:
    """Migration 0021: TRUNCATE, a conversation moved to another campaign, and a failed initial
    deleted in one statement with its conversation are refused; the tally stays exact (before,
    each left it wrong: found by the outside review of #29)."""
    async with pool.acquire() as conn:
        campaign, texters = await _campaign(conn, 40)
        other, _ = await _campaign(conn, 5)
        victim = await conn.fetchval(
            "SELECT min(id) FROM conversation WHERE campaign_id = $1", campaign
        )
        await conn.execute(
            """INSERT INTO message (conversation_id, direction, kind, texter_id, body,
                                    delivery_status)
               VALUES ($1, 'outbound', 'initial', $2, 'Hi', 'failed')""",
            victim,
            texters[0],
        )
        before = await _assert_exact(pool)
        refused = [
            "TRUNCATE message",
            "TRUNCATE conversation CASCADE",
            f"UPDATE conversation SET campaign_id = {other} WHERE id = {victim}",
            f"""WITH gone AS (DELETE FROM message WHERE conversation_id = {victim}
                              RETURNING conversation_id)
                DELETE FROM conversation WHERE id IN (SELECT conversation_id FROM gone)""",
        ]
        for statement in refused:
            with pytest.raises(asyncpg.FeatureNotSupportedError, match="campaign_tally"):
                await conn.execute(statement)
        assert await conn.fetchval(
            "SELECT campaign_id FROM conversation WHERE id = $1", victim
        ) == (campaign)
        assert await _assert_exact(pool) == before
        # What stays allowed: an UPDATE naming campaign_id without changing it, and the two
        # deletes in two statements.
        await conn.execute(
            "UPDATE conversation SET campaign_id = campaign_id WHERE id = $1", victim
        )
        await conn.execute("DELETE FROM message WHERE conversation_id = $1", victim)
        await conn.execute("DELETE FROM conversation WHERE id = $1", victim)
        after = await _assert_exact(pool)
        assert after.get((campaign, "failed_initials", None, None), 0) == 0


async def _claims_and_moves(pool: asyncpg.Pool, campaign: int, texters: list[int], n: int) -> None:
    """Texter n's claims of 25, and moves of 10 to the next texter, through move_conversations
    as the services do, each in its own transaction, until the pool is dry."""
    me, other = texters[n], texters[(n + 1) % len(texters)]
    while True:
        async with pool.acquire() as conn, conn.transaction():
            ids = [r["id"] for r in await conn.fetch(
                """SELECT id FROM conversation WHERE campaign_id = $1 AND assignee_id IS NULL
                   AND status = 'not_started' ORDER BY id LIMIT 25 FOR UPDATE SKIP LOCKED""",
                campaign)]  # fmt: skip
            if not ids:
                return
            await conn.fetch(
                "SELECT * FROM move_conversations($1, $2, $3, $4, 'not_started', 'self_assign',"
                " NULL)",
                uuid.uuid4(), ids, [None] * len(ids), [me] * len(ids),
            )  # fmt: skip
        async with pool.acquire() as conn, conn.transaction():
            # A send of half the claim, a reply to a third of those.
            await conn.execute(
                "UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)", ids[::2]
            )
            await conn.execute(
                """UPDATE conversation SET status = 'needs_reply', needs_reply_since = now()
                   WHERE id = ANY($1)""",
                ids[::6],
            )  # fmt: skip
        async with pool.acquire() as conn, conn.transaction():
            moved = [r["id"] for r in await conn.fetch(
                """SELECT id FROM conversation WHERE id = ANY($1) AND assignee_id = $2
                   ORDER BY id LIMIT 10 FOR UPDATE""", ids, me)]  # fmt: skip
            await conn.fetch(
                "SELECT * FROM move_conversations($1, $2, $3, $4, NULL, 'reassign', NULL)",
                uuid.uuid4(), moved, [me] * len(moved), [other] * len(moved),
            )  # fmt: skip


async def test_concurrent_writers_folds_and_a_crash_mid_batch_leave_the_tally_exact(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with pool.acquire() as conn:
        campaign, texters = await _campaign(conn, 3_000)
    stop = asyncio.Event()

    async def fold_all_along() -> int:
        folds = 0
        while not stop.is_set():
            await fold_tallies(pool)
            folds += 1
            await asyncio.sleep(0.01)
        return folds

    async def release_all_along() -> None:
        while not stop.is_set():
            async with pool.acquire() as conn, conn.transaction():
                # An admin's "release all unhandled replies now", as the reaper serves it.
                await reaper_queries.release_all_unhandled(
                    conn, campaign_id=campaign, operation=uuid.uuid4(), actor_id=texters[0]
                )
            await asyncio.sleep(0.02)

    async def crash_mid_batch() -> None:
        """A claim batch whose backend dies before it commits: nothing of it may remain."""
        victim = await asyncpg.connect(database_url)
        try:
            pid = victim.get_server_pid()
            transaction = victim.transaction()
            await transaction.start()
            await victim.execute(
                """UPDATE conversation SET assignee_id = $2 WHERE id IN (
                       SELECT id FROM conversation WHERE campaign_id = $1 AND assignee_id IS NULL
                       AND status = 'not_started' ORDER BY id DESC LIMIT 100
                       FOR UPDATE SKIP LOCKED)""",
                campaign, texters[0],
            )  # fmt: skip
            await pool.execute("SELECT pg_terminate_backend($1)", pid)
            with contextlib.suppress(Exception):
                await victim.execute("SELECT 1")
        finally:
            with contextlib.suppress(Exception):
                await victim.close()

    folder = asyncio.create_task(fold_all_along())
    releaser = asyncio.create_task(release_all_along())
    await asyncio.gather(
        crash_mid_batch(),
        *(_claims_and_moves(pool, campaign, texters, n) for n in range(8)),
    )
    stop.set()
    folds = await folder
    await releaser
    assert folds > 1
    recounted = await _assert_exact(pool)
    # The campaign ran: everything was claimed, sent in part, replied to, moved, released.
    assert (campaign, "not_started", None, None) not in recounted
    assert any(k[1] == "needs_reply" and k[2] is None for k in recounted)
    assert any(k[1] == "awaiting_reply" and k[2] is not None for k in recounted)
    await fold_tallies(pool)
    assert await _assert_exact(pool) == recounted


async def test_a_simulated_campaign_leaves_stats_and_tally_equal_to_a_recount(
    assigner: Baton, sender: Baton, inbound: Baton, settings: CommonSettings, nc: NatsClient,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    """Claims, sends, replies, opt-outs and reassignments through the real services, the
    reaper folding every 0.1 s; the stats the campaign answers are the recount's."""
    reaper_settings = ReaperSettings(database_url=settings.database_url, nats_url=settings.nats_url,
                                     db_pool_min=1, reap_interval_seconds=0.5,
                                     tally_fold_interval_seconds=0.1)  # fmt: skip
    scenario = Scenario(contacts=300, texters=4, batch_size=40, send_rate=200, reply_rate=0.3,
                        stop_rate=0.2, unresponsive=0, release_after_minutes=None,
                        reassign_after_seconds=1, time_limit_seconds=100)  # fmt: skip
    async with running(REAPER, reaper_settings):
        client_nc = await nats.connect(settings.nats_url)
        try:
            report = await simulate(client_nc, BatonClient(client_nc), SIGNER, scenario,
                                    lambda _: None)  # fmt: skip
        finally:
            await client_nc.close()
        folded = await pool.fetchval("SELECT count(*) FROM campaign_tally WHERE folded")
    assert report.finished, render(report)
    assert folded > 0
    recounted = await _assert_exact(pool)
    by_status: dict[str, int] = {}
    for (_, counted, _, _), n in recounted.items():
        if counted != "failed_initials":
            by_status[counted] = by_status.get(counted, 0) + n
    assert {k: v for k, v in report.stats["by_status"].items() if v} == by_status
    assert by_status["closed"] == report.messages["stops"] > 0
