"""EXPLAIN each hot query on a realistically sized campaign; fail if it stops using its index."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest

from services.assigner import claims_queries as claims
from services.sender import queries as sender
from shared.contract import catalogue as api
from shared.runtime import outbox_queries as outbox
from shared.runtime.query_executor import Executor, statement_of
from tests.support.databases import clone_database, drop_database, with_database
from tests.support.servers import ServerSet

# A typed query call, made on the executor it is given: the statement it sends is what is
# explained (`statement_of`), with its parameters named as the service passes them.
Call = Callable[[Executor], Awaitable[object]]

# One worker runs the module, so its populated database is built once, not once per worker.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("hot-queries")]


async def _populate(pool: asyncpg.Pool) -> dict[str, int]:
    """Two campaigns of 30,000 conversations, mostly handed out already (a campaign well under
    way, when a pool scan is most expensive), in every state; then ANALYZE."""
    async with pool.acquire() as conn:
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
        # 200 texters sharing the campaign, as in a real one.
        texters = [r["id"] for r in await conn.fetch(
            "INSERT INTO app_user (name) SELECT 't' || g FROM generate_series(1, 200) g RETURNING id"
        )]  # fmt: skip
        texter = texters[0]
        campaigns = []
        for n in range(2):
            campaign = await conn.fetchval(
                "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, $2, 300) RETURNING id",
                org, f"c{n}",
            )  # fmt: skip
            campaigns.append(campaign)
            await conn.execute(
                """INSERT INTO contact (campaign_id, phone)
                   SELECT $1, '+1415' || lpad(($2 * 100000 + g)::text, 7, '0')
                   FROM generate_series(1, 30000) g""",
                campaign, n,
            )  # fmt: skip
            await conn.execute(
                """INSERT INTO conversation (campaign_id, contact_id, status, assignee_id,
                                             needs_reply_since)
                   SELECT campaign_id, id,
                          (ARRAY['not_started','awaiting_reply','needs_reply','replied'])[id % 4 + 1],
                          CASE WHEN id % 50 = 0 THEN NULL ELSE ($2::bigint[])[id % 200 + 1] END,
                          CASE WHEN id % 4 + 1 = 3 THEN now() - (id || ' seconds')::interval END
                   FROM contact WHERE campaign_id = $1""",
                campaign, texters,
            )  # fmt: skip
        await conn.execute("ANALYZE")
    return {"campaign": campaigns[0], "texter": texter}


async def _with_sends(pool: asyncpg.Pool) -> None:
    """A campaign under way has sent a text in most conversations, each under its own key."""
    await pool.execute("""INSERT INTO message (conversation_id, direction, kind, texter_id, body,
                                               idempotency_key, delivery_status)
                          SELECT id, 'outbound', 'initial', assignee_id, 'Hi', 'k' || id, 'sent'
                          FROM conversation WHERE assignee_id IS NOT NULL""")  # fmt: skip
    await pool.execute("ANALYZE")


Populated = tuple[str, dict[str, int]]


def _populated_database(servers: ServerSet, template: str, *, sends: bool) -> Iterator[Populated]:
    """One populated database for the module's tests that only EXPLAIN (no statement they plan
    is run), so 60,000 conversations are written once per worker, not once per test."""

    async def build() -> Populated:
        name = await clone_database(servers.postgres_url, template)
        url = with_database(servers.postgres_url, name)
        async with asyncpg.create_pool(url, min_size=1, max_size=2) as pool:
            data = await _populate(pool)
            if sends:
                await _with_sends(pool)
        return name, data

    name, data = asyncio.run(build())
    yield with_database(servers.postgres_url, name), data
    asyncio.run(drop_database(servers.postgres_url, name))


@pytest.fixture(scope="module")
def campaign_under_way(servers: ServerSet, template_database: str) -> Iterator[Populated]:
    yield from _populated_database(servers, template_database, sends=False)


@pytest.fixture(scope="module")
def campaign_with_sends(servers: ServerSet, template_database: str) -> Iterator[Populated]:
    yield from _populated_database(servers, template_database, sends=True)


async def _pool_of(populated: Populated) -> AsyncIterator[tuple[asyncpg.Pool, dict[str, int]]]:
    url, data = populated
    async with asyncpg.create_pool(url, min_size=1, max_size=4) as pool:
        yield pool, data


@pytest.fixture
async def under_way(
    campaign_under_way: Populated,
) -> AsyncIterator[tuple[asyncpg.Pool, dict[str, int]]]:
    async for found in _pool_of(campaign_under_way):
        yield found


@pytest.fixture
async def with_sends(
    campaign_with_sends: Populated,
) -> AsyncIterator[tuple[asyncpg.Pool, dict[str, int]]]:
    async for found in _pool_of(campaign_with_sends):
        yield found


async def _plan(pool: asyncpg.Pool, call: Call) -> str:
    sql, args = await statement_of(call)
    async with pool.acquire() as conn, conn.transaction():
        # Plans must hold even where a sequential scan is not made artificially expensive.
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    return json.dumps(json.loads(plan))


def _seq_scanned(node: Any) -> set[str]:
    """Relations read by a sequential scan anywhere in an EXPLAIN (FORMAT JSON) tree."""
    found: set[str] = set()
    if isinstance(node, dict):
        if node.get("Node Type") == "Seq Scan":
            found.add(node.get("Relation Name", ""))
        for value in node.values():
            found |= _seq_scanned(value)
    elif isinstance(node, list):
        for item in node:
            found |= _seq_scanned(item)
    return found


async def _groups(pool: asyncpg.Pool, campaign: int) -> list[int]:
    rows = await pool.fetch(
        "SELECT zone_group FROM campaign_zone_group WHERE campaign_id = $1 ORDER BY 1", campaign
    )
    return [r["zone_group"] for r in rows]


def _one_claim(campaign: int, texter: int, groups: list[int], after: list[int]) -> Call:
    """claim_initials for one texter's 300 rows (a batch of one claim)."""
    return lambda conn: claims.claim_initials(
        conn,
        campaign_id=campaign,
        texter_ids=[texter],
        size=300,
        zone_groups=groups,
        after_ids=after,
        operations=[uuid.uuid4()],
        reasons=["self_assign"],
        slots=[1] * 300,
    )


async def _explained(conn: asyncpg.Connection, call: Call) -> Any:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement `call` sends, run on `conn`."""
    sql, args = await statement_of(call)
    return json.loads(await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *args))


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("claim_initials", "conversation_pool_initials"),
        ("claim_replies", "conversation_pool_replies"),
        ("pooled_initials_groups", "conversation_pool_initials"),
        ("pooled_replies_groups", "conversation_pool_replies"),
        ("texters_pending", "conversation_assignee"),
    ],
)
async def test_assignment_queries_use_their_index(
    under_way: tuple[asyncpg.Pool, dict[str, int]], query: str, index: str
) -> None:
    pool, data = under_way
    campaign, texter = data["campaign"], data["texter"]
    groups = await _groups(pool, campaign)
    calls: dict[str, Call] = {
        "claim_initials": _one_claim(campaign, texter, groups, [0] * len(groups)),
        "claim_replies": lambda c: claims.claim_replies(
            c,
            campaign_id=campaign,
            texter_id=texter,
            size=300,
            open_groups=groups,
            operation=uuid.uuid4(),
            reason="self_assign",
        ),
        "pooled_initials_groups": lambda c: claims.pooled_initials_groups(c, campaign_id=campaign),
        "pooled_replies_groups": lambda c: claims.pooled_replies_groups(c, campaign_id=campaign),
        "texters_pending": lambda c: claims.texters_pending(
            c, campaign_id=campaign, texter_ids=[texter]
        ),
    }
    plan = await _plan(pool, calls[query])
    assert index in plan, plan
    assert "conversation" not in _seq_scanned(json.loads(plan))


async def test_outbox_lease_uses_the_pending_index(pool: asyncpg.Pool) -> None:
    await pool.execute(
        """INSERT INTO outbox (subject, msg_id, payload, published_at)
           SELECT $1, g::text, '\\x00', now() FROM generate_series(1, 50000) g""",
        api.CONVERSATIONS_ASSIGNED.subject,
    )
    await pool.execute("ANALYZE outbox")
    plan = await _plan(
        pool,
        lambda c: outbox.lease_pending(
            c, limit=500, lease_seconds=30.0, subject_prefixes=[f"{api.EVENTS_ROOT}."]
        ),
    )
    assert "outbox_pending" in plan, plan


async def test_claim_scan_starts_at_the_cursor_not_at_the_campaign_start(
    pool: asyncpg.Pool,
) -> None:
    """Regression: with `campaign_id = $1` beside the row comparison, Postgres began the index
    scan at the campaign's first entry and read every claimed row's dead entry up to the cursor
    (487 ms per claim 8.8M rows into a 10M campaign). Buffers, not time, are what we pin."""
    async with pool.acquire() as conn:
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
        texter = await conn.fetchval("INSERT INTO app_user (name) VALUES ('t') RETURNING id")
        campaign = await conn.fetchval(
            "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'c', 300) RETURNING id",
            org,
        )
        await conn.execute(
            """INSERT INTO contact (campaign_id, phone)
               SELECT $1, '+1415' || lpad(g::text, 7, '0') FROM generate_series(1, 60000) g""",
            campaign,
        )
        await conn.execute(
            "INSERT INTO conversation (campaign_id, contact_id) SELECT campaign_id, id FROM contact"
        )
        # A campaign well drained: everything but the last 1,000 handed out, dead entries left.
        cursor = await conn.fetchval(
            """WITH claimed AS (UPDATE conversation SET assignee_id = $1
                                WHERE id <= (SELECT max(id) - 1000 FROM conversation) RETURNING id)
               SELECT max(id) FROM claimed""",
            texter,
        )
        await conn.execute("ANALYZE conversation")
        groups = await _groups(pool, campaign)
        async with conn.transaction():
            plan = await _explained(conn, _one_claim(campaign, texter, groups, [cursor]))
    scans = _index_scans(plan, "conversation_pool_initials")
    assert scans, plan
    # 300 live entries after the cursor fit in a handful of pages; 59,000 dead ones do not.
    assert all(scan["Shared Hit Blocks"] + scan["Shared Read Blocks"] < 100 for scan in scans), (
        scans
    )


def _index_scans(node: Any, index: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("Index Name") == index:
            found.append(node)
        for value in node.values():
            found += _index_scans(value, index)
    elif isinstance(node, list):
        for item in node:
            found += _index_scans(item, index)
    return found


async def _claim_buffers(
    conn: asyncpg.Connection, campaign: int, texter: int, groups: list[int]
) -> tuple[int, Any]:
    """Shared buffers one initials claim over `groups` touches (from their first row), rolled
    back; and its plan."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        plan = await _explained(conn, _one_claim(campaign, texter, groups, [0] * len(groups)))
        claimed = await conn.fetchval(
            "SELECT count(*) FROM conversation WHERE campaign_id = $1 AND assignee_id = $2",
            campaign, texter,
        )  # fmt: skip
        assert claimed == 300
    finally:
        await transaction.rollback()
    top = plan[0]["Plan"]
    return int(top["Shared Hit Blocks"] + top["Shared Read Blocks"]), plan


async def test_a_claim_reads_nothing_of_the_zones_closed_now(pool: asyncpg.Pool) -> None:
    """Issue #19: with 1,000,000 Unassigned conversations in a zone closed now (Honolulu at
    dawn) and 300 in an open one (Washington), a claim of the open zone reads the same order of
    buffers as on a campaign with only those 300: its index range starts at the open group, and
    the closed rows are not read, however many. The open rows come last in id order, where a
    scan of the campaign's pool filtering on the zone would reach them after the million."""
    async with pool.acquire() as conn:
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
        texter = await conn.fetchval("INSERT INTO app_user (name) VALUES ('t') RETURNING id")
        honolulu = await conn.fetchval(
            "SELECT contact_zone_group('Pacific/Honolulu', NULL)"
        )  # fmt: skip
        washington = await conn.fetchval("SELECT contact_zone_group(NULL, '+12025550100')")
        campaigns = {}
        for name, closed in (("crowded", 1_000_000), ("alone", 0)):
            campaign = await conn.fetchval(
                "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, $2, 300) RETURNING id",
                org, name,
            )  # fmt: skip
            campaigns[name] = campaign
            for zone_group, prefix, count in ((honolulu, "+1808", closed),
                                              (washington, "+1202", 300)):  # fmt: skip
                if not count:
                    continue
                first = await conn.fetchval(
                    """INSERT INTO contact (campaign_id, phone)
                       SELECT $1, $2 || lpad(g::text, 7, '0') FROM generate_series(1, $3) g
                       RETURNING id""",
                    campaign, prefix, count,
                )  # fmt: skip
                # The group given, as an import's trigger would set it: a million rows faster.
                await conn.execute(
                    """INSERT INTO conversation (campaign_id, contact_id, zone_group)
                       SELECT $1, id, $2 FROM contact WHERE campaign_id = $1 AND id >= $3
                       ORDER BY id""",
                    campaign, zone_group, first,
                )  # fmt: skip
        await conn.execute("VACUUM ANALYZE conversation")
        crowded, plan = await _claim_buffers(conn, campaigns["crowded"], texter, [washington])
        alone, _ = await _claim_buffers(conn, campaigns["alone"], texter, [washington])
    scans = _index_scans(plan, "conversation_pool_initials")
    assert scans, plan
    # 300 live entries fill a few index pages and their heap pages; a million do not.
    assert all(s["Shared Hit Blocks"] + s["Shared Read Blocks"] < 100 for s in scans), scans
    assert crowded < 1.5 * alone, (crowded, alone)


@pytest.mark.parametrize("plans", ["custom", "generic"])
@pytest.mark.parametrize("query", ["previous_sends", "conversations_for_send", "mark_sent",
                                   "insert_outbounds"])  # fmt: skip
async def test_the_senders_batch_queries_probe_by_key_never_scan(
    with_sends: tuple[asyncpg.Pool, dict[str, int]], query: str, plans: str
) -> None:
    """A batch of 8 sends among 60,000 conversations: each statement looks its rows up by key,
    with the plan Postgres makes for these arrays and with the generic one it may cache."""
    pool, data = with_sends
    ids = [r["id"] for r in await pool.fetch(
        "SELECT id FROM conversation WHERE campaign_id = $1 ORDER BY id LIMIT 8", data["campaign"])]  # fmt: skip
    texters = [data["texter"]] * len(ids)
    keys = [str(uuid.uuid4()) for _ in ids]
    calls: dict[str, Call] = {
        "previous_sends": lambda c: sender.previous_sends(
            c, texter_ids=texters, idempotency_keys=keys
        ),
        "conversations_for_send": lambda c: sender.conversations_for_send(
            c, conversation_ids=ids, caller_ids=texters
        ),
        "mark_sent": lambda c: sender.mark_sent(c, initials=ids[:4], replies=ids[4:]),
        "insert_outbounds": lambda c: sender.insert_outbounds(
            c,
            conversation_ids=ids,
            kinds=["initial"] * len(ids),
            texter_ids=texters,
            bodies=["Hi"] * len(ids),
            idempotency_keys=keys,
            our_numbers=[None] * len(ids),
        ),
    }
    sql, args = await statement_of(calls[query])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL plan_cache_mode = force_{plans}_plan")
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    scanned = _seq_scanned(json.loads(json.dumps(json.loads(plan))))
    assert not scanned & {"conversation", "message", "contact"}, (scanned, plan)
