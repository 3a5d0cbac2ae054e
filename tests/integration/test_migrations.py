from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.runtime.migrations import current_version, latest_version, migrate
from tests.support.databases import drop_database, migrate_below, with_database
from tests.support.servers import ServerSet

pytestmark = pytest.mark.integration

EXPECTED_TABLES = {
    "organization", "app_user", "organization_member", "team", "team_member", "campaign",
    "campaign_texter", "invite_link", "contact", "conversation", "message", "opt_out",
    "unmatched_inbound", "assignment_event", "assignment_move", "outbox", "schema_migration", "sending_number",
    "zone_group", "phone_zone_prefix", "campaign_zone_group",
    "contact_file_import", "contact_file_row", "consent_order", "campaign_tally",
    "campaign_tally_recount", "removal",
    # Issue #31.
    "bridge_attempt", "bridge_spool", "bridge_account", "provider_number",
    # Issue #33.
    "assignment_request", "assignment_request_event", "campaign_export", "campaign_team",
}  # fmt: skip


async def _fresh_database(servers: ServerSet, name: str) -> str:
    admin = await asyncpg.connect(servers.postgres_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(servers.postgres_url, name)


async def _schema(conn: asyncpg.Connection) -> list[tuple[str, str, str]]:
    rows = await conn.fetch(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'public' ORDER BY table_name, column_name"""
    )
    return [(r["table_name"], r["column_name"], r["data_type"]) for r in rows]


async def test_migrating_twice_applies_each_migration_once(servers: ServerSet) -> None:
    url = await _fresh_database(servers, "baton_migrate_twice")
    try:
        conn = await asyncpg.connect(url)
        try:
            first = await migrate(conn)
            schema = await _schema(conn)
            second = await migrate(conn)
            assert len(first) == latest_version()
            assert second == []
            assert await _schema(conn) == schema
            assert await current_version(conn) == latest_version()
            tables = {row["table_name"] for row in await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )}  # fmt: skip
            assert tables == EXPECTED_TABLES
        finally:
            await conn.close()
    finally:
        await drop_database(servers.postgres_url, "baton_migrate_twice")


async def test_concurrent_migrations_leave_one_correct_schema(servers: ServerSet) -> None:
    url = await _fresh_database(servers, "baton_migrate_race")
    try:
        conns = [await asyncpg.connect(url) for _ in range(4)]
        try:
            results = await asyncio.gather(*(migrate(c) for c in conns))
            # Exactly one process applied each migration; the others found it done.
            applied = [m.version for result in results for m in result]
            assert sorted(applied) == list(range(1, latest_version() + 1))
            count = await conns[0].fetchval("SELECT count(*) FROM schema_migration")
            assert count == latest_version()
        finally:
            for conn in conns:
                await conn.close()
    finally:
        await drop_database(servers.postgres_url, "baton_migrate_race")


async def test_assignment_event_log_is_append_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
        campaign = await conn.fetchval(
            "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'c', 300) RETURNING id",
            org,
        )
        contact = await conn.fetchval(
            "INSERT INTO contact (campaign_id, phone) VALUES ($1, '+14155550100') RETURNING id",
            campaign,
        )
        conversation = await conn.fetchval(
            "INSERT INTO conversation (campaign_id, contact_id) VALUES ($1, $2) RETURNING id",
            campaign,
            contact,
        )
        user = await conn.fetchval("INSERT INTO app_user (name) VALUES ('t') RETURNING id")
        await conn.execute(
            """INSERT INTO assignment_event (operation_id, campaign_id, conversation_ids,
                                             to_texter_id, reason)
               VALUES (gen_random_uuid(), $1, ARRAY[$2::bigint], $3, 'self_assign')""",
            campaign,
            conversation,
            user,
        )
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE assignment_event SET reason = 'move'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM assignment_event")


async def test_an_event_log_from_before_0008_folds_into_one_row_per_move_group(
    servers: ServerSet,
) -> None:
    """Per-conversation event rows (migrations 0001-0007) become one row per operation, campaign
    and (from, to) pair; assignment_move gives every conversation's moves back, in their order."""
    url = await _fresh_database(servers, "baton_event_log_upgrade")
    conn = await asyncpg.connect(url)
    try:
        await migrate_below(conn, 8)
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
        campaign = await conn.fetchval(
            "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'c', 300) RETURNING id",
            org,
        )
        a, b = [r["id"] for r in await conn.fetch(
            "INSERT INTO app_user (name) VALUES ('a'), ('b') RETURNING id")]  # fmt: skip
        claim, reassign = (
            "11111111-1111-1111-1111-111111111111",
            "22222222-2222-2222-2222-222222222222",
        )
        # Conversation 1 and 2 claimed by a, then 2 reassigned to b and 1 unassigned.
        await conn.execute(
            """INSERT INTO assignment_event (operation_id, campaign_id, conversation_id,
                                             from_texter_id, to_texter_id, reason, actor_id)
               VALUES ($1, $3, 1, NULL, $4, 'self_assign', $4), ($1, $3, 2, NULL, $4, 'self_assign', $4),
                      ($2, $3, 2, $4, $5, 'reassign', $5), ($2, $3, 1, $4, NULL, 'reassign', $5)""",
            claim, reassign, campaign, a, b,
        )  # fmt: skip
        assert [m.version for m in await migrate(conn)] == list(range(8, latest_version() + 1))
        rows = await conn.fetch(
            """SELECT operation_id::text, from_texter_id, to_texter_id, conversation_ids
               FROM assignment_event ORDER BY id"""
        )
        assert [(r["operation_id"], r["from_texter_id"], r["to_texter_id"],
                 list(r["conversation_ids"])) for r in rows] == [
            (claim, None, a, [1, 2]), (reassign, a, b, [2]), (reassign, a, None, [1]),
        ]  # fmt: skip
        replay: dict[int, int | None] = {}
        for move in await conn.fetch(
            "SELECT conversation_id, to_texter_id FROM assignment_move ORDER BY event_id"
        ):
            replay[move["conversation_id"]] = move["to_texter_id"]
        assert replay == {1: None, 2: b}
    finally:
        await conn.close()
        await drop_database(servers.postgres_url, "baton_event_log_upgrade")
