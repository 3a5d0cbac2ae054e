"""Reassignment of a million conversations in one request, with self-assignment served meanwhile.

A campaign of `--size` Unassigned conversations is reassigned evenly to 100 texters two ways, on
the same data, in the same run, on the same server:
1. the plain statement: one `row_number()` UPDATE dealing the rows round-robin, which also
   inserts every event row (a data-modifying CTE) - what a reassignment costs Postgres at least.
   Its event rows are one per conversation, as Baton's log was before migration 0008, into a
   table of that shape with that log's indexes (`PLAIN_EVENT_LOG`); the same statement is also
   run logging as Baton now does (one row per (from, to) pair), printed beside it;
2. after putting every row back and vacuuming, Baton's `baton.assign.reassign` (from Unassigned,
   status any) through NATS, measured at the client, while `--requesters` texters of a second
   campaign keep requesting batches: their latency shows whether the reassignment blocks them.
   Requesters cycle through that campaign's texters, so however long the reassignment takes
   they never run out; a texter met again holds a batch and is refused `initials_pending`,
   counted apart.
Prints `reassign ratio to plain: X.XXx` (Baton's seconds over the plain statement's).

    python -m bench.reassign --size 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from typing import Any

import asyncpg
import nats

from bench.claims import build_campaign
from bench.support import auth_headers, latency_summary, servers, service, write_results
from shared.contract import catalogue as api
from shared.runtime.migrations import migrate_database

# The least a reassignment costs: deal the rows round-robin in one UPDATE and log every move in
# the same statement.
# Each self-assign requester's pause between requests: a steady load, not a drain.
REQUEST_PAUSE_SECONDS = 0.05
# The event log as it was before migration 0008: one row per moved conversation.
PLAIN_EVENT_LOG = """
CREATE TABLE IF NOT EXISTS plain_assignment_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operation_id    uuid NOT NULL,
    campaign_id     bigint NOT NULL,
    conversation_id bigint NOT NULL,
    from_texter_id  bigint,
    to_texter_id    bigint,
    reason          text NOT NULL,
    actor_id        bigint,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS plain_assignment_event_conversation
    ON plain_assignment_event (conversation_id, id);
CREATE INDEX IF NOT EXISTS plain_assignment_event_operation
    ON plain_assignment_event (operation_id);
"""
PLAIN_MOVES = """
WITH numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM conversation
    WHERE campaign_id = $1 AND assignee_id IS NULL
      AND status IN ('not_started', 'awaiting_reply', 'needs_reply', 'replied')
), moved AS (
    UPDATE conversation c
    SET assignee_id = ($2::bigint[])[numbered.n % cardinality($2::bigint[]) + 1],
        assigned_at = now(), updated_at = now()
    FROM numbered WHERE c.id = numbered.id
    RETURNING c.id, c.assignee_id
)"""
PLAIN_REASSIGN = {
    "one event row per conversation": PLAIN_MOVES
    + """, logged AS (
    INSERT INTO plain_assignment_event (operation_id, campaign_id, conversation_id, to_texter_id,
                                        reason, actor_id)
    SELECT $4::uuid, $1, id, assignee_id, 'reassign', $3 FROM moved
)
SELECT count(*) FROM moved
""",
    "one event row per (from, to) pair": PLAIN_MOVES
    + """, logged AS (
    INSERT INTO assignment_event (operation_id, campaign_id, to_texter_id, reason, actor_id,
                                  conversation_ids)
    SELECT $4::uuid, $1, assignee_id, 'reassign', $3, array_agg(id ORDER BY id) FROM moved
    GROUP BY assignee_id
)
SELECT count(*) FROM moved
""",
}


async def plain_reassign(url: str, campaign: int, targets: list[int], actor: int,
                         logging: str) -> float:  # fmt: skip
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(PLAIN_EVENT_LOG)
        started = time.perf_counter()
        async with conn.transaction():
            moved = await conn.fetchval(PLAIN_REASSIGN[logging], campaign, targets, actor,
                                        uuid.uuid4())  # fmt: skip
        seconds = time.perf_counter() - started
        print(f"  plain statement, {logging}: {moved:,} rows in {seconds:.2f} s")
        await put_back(conn, campaign)
    finally:
        await conn.close()
    return seconds


async def put_back(conn: asyncpg.Connection, campaign: int) -> None:
    """Every row Unassigned again, and the table vacuumed: Baton starts from what plain did."""
    await conn.execute("UPDATE conversation SET assignee_id = NULL, assigned_at = NULL "
                       "WHERE campaign_id = $1", campaign)  # fmt: skip
    await conn.execute("VACUUM ANALYZE conversation")


async def measure(url: str, nats_url: str, big: int, targets: list[int], actor: int,
                  small: int, requesters: list[int], concurrency: int) -> dict[str, Any]:  # fmt: skip
    """The plain statement, then Baton's reassignment, each while the same self-assignment load
    runs against the second campaign."""
    nc = await nats.connect(nats_url)
    latencies: list[float] = []
    # Each request from a texter named by the token alone; cycling, so they never run out.
    callers = itertools.cycle([auth_headers(t) for t in requesters])
    outcomes: Counter[str] = Counter()
    body = json.dumps({"campaign_id": small}).encode()
    done = asyncio.Event()

    async def requester() -> None:
        while not done.is_set():
            headers = next(callers)
            started = time.perf_counter()
            answer = json.loads((await nc.request(api.ASSIGN_REQUEST.subject, body, timeout=60,
                                                  headers=headers)).data)  # fmt: skip
            latencies.append(time.perf_counter() - started)
            outcomes["ok" if answer["ok"] else answer["error"]["code"]] += 1
            await asyncio.sleep(REQUEST_PAUSE_SECONDS)

    background = [asyncio.create_task(requester()) for _ in range(concurrency)]
    await asyncio.sleep(1.0)  # the requesters are in full swing before the reassignment
    before = len(latencies)
    plain_seconds = await plain_reassign(url, big, targets, actor,
                                         "one event row per conversation")  # fmt: skip
    during_plain = latencies[before:]
    grouped_seconds = await plain_reassign(url, big, targets, actor,
                                           "one event row per (from, to) pair")  # fmt: skip
    request = {"campaign_id": big, "status": "any", "from_unassigned": True,
               "to_texter_ids": targets}  # fmt: skip
    before = len(latencies)
    started = time.perf_counter()
    reply = json.loads(
        (await nc.request(api.REASSIGN.subject, json.dumps(request).encode(), timeout=600,
                          headers=auth_headers(actor))).data
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    during = latencies[before:]
    done.set()
    await asyncio.gather(*background)
    await nc.close()
    assert reply["ok"], reply
    counts = list(reply["data"]["per_texter"].values())
    return {"moved": reply["data"]["moved"], "seconds": round(elapsed, 2),
            "plain_with_events_seconds": round(plain_seconds, 2),
            "ratio_to_plain": round(elapsed / plain_seconds, 2),
            "plain_with_grouped_events_seconds": round(grouped_seconds, 2),
            "ratio_to_plain_with_grouped_events": round(elapsed / grouped_seconds, 2),
            "rows_per_s": round(reply["data"]["moved"] / elapsed),
            "per_texter_min": min(counts), "per_texter_max": max(counts),
            "self_assign_requests_meanwhile": len(during),
            "self_assign_outcomes": dict(outcomes),
            "self_assign_meanwhile": latency_summary(during),
            "self_assign_during_plain": latency_summary(during_plain)}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        big, big_texters = await build_campaign(url, args.size)
        small, small_texters = await build_campaign(url, args.small_size)
        conn = await asyncpg.connect(url)
        try:
            org = await conn.fetchval("SELECT org_id FROM campaign WHERE id = $1", big)
            actor = await conn.fetchval("INSERT INTO app_user (name) VALUES ('admin') RETURNING id")
            await conn.execute(
                "INSERT INTO organization_member (org_id, user_id, role) VALUES ($1, $2, 'admin')",
                org,
                actor,
            )
        finally:
            await conn.close()
        targets = big_texters[:100]
        with service("assigner", url, found.nats_url, db_pool_max="8"):
            requesters = list(itertools.islice(small_texters, 200, None))
            figures = await measure(url, found.nats_url, big, targets, actor, small, requesters,
                                    args.requesters)  # fmt: skip
    print(
        f"reassigned {figures['moved']:,} conversations to 100 texters in {figures['seconds']} s "
        f"({figures['rows_per_s']:,} rows/s;"
        f" {figures['per_texter_min']}-{figures['per_texter_max']} each)"
    )
    meanwhile = figures["self_assign_meanwhile"]
    print(
        f"self-assignment meanwhile: {figures['self_assign_requests_meanwhile']} requests, "
        f"p50 {meanwhile['p50_ms']} ms, p99 {meanwhile['p99_ms']} ms, outcomes {figures['self_assign_outcomes']}"
    )
    plain = figures["self_assign_during_plain"]
    print(f"self-assignment during the plain statement: p50 {plain['p50_ms']} ms, "
          f"p99 {plain['p99_ms']} ms")  # fmt: skip
    print(f"reassign ratio to plain: {figures['ratio_to_plain']:.2f}x")
    print("ratio to the plain statement logging as Baton does:"
          f" {figures['ratio_to_plain_with_grouped_events']:.2f}x")  # fmt: skip
    print(f"wrote {write_results('reassign', {'size': args.size, **figures})}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--small-size", type=int, default=1_500_000,
                        help="the self-assign campaign's size: enough not to run dry meanwhile")  # fmt: skip
    parser.add_argument(
        "--requesters", type=int, default=4, help="concurrent self-assign requesters"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
