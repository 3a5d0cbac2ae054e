"""Self-assignment throughput: Baton's `baton.assign.request` against Spoke's plain claim.

For each campaign size the same data is claimed two ways, in the same process, on the same server:
1. the plain claim Spoke uses (one UPDATE ... IN (SELECT ... LIMIT 300 FOR UPDATE SKIP LOCKED)),
   from `--baseline-workers` connections for `--baseline-seconds`;
2. after putting every row back and vacuuming, Baton drains the whole campaign through NATS with
   `--texters` concurrent requesters (each request from a texter who holds nothing yet, so the
   rules pass and every request is a claim; each carries that texter's token, minted before the
   clock starts), measured at the client. The end of a drain is
   reported apart ("tail": the last 2% of requests, and the `no_more_conversations` answers):
   that is where short batches refill from below the cursor and the pool is checked for empty.
3. with `--floor-baseline`, the same drain first with the pool floor never raised
   (BATON_POOL_FLOOR_INTERVAL_SECONDS=0, every end-of-pool scan from the campaign's start), so
   the floor's effect is a ratio from one process.
4. with `--tally-baseline`, the same drain first without what migration 0011 adds to every claim
   (the campaign tally triggers disabled, the page indexes dropped), so what keeping the counts
   and the pages costs claims is a ratio from one process too.
5. with `--inbox-index-baseline`, the same drain first with the inbox page's index as it was
   before migration 0020 made it covering, so what the covering index costs claims is one too.

The plain claim runs from as many connections as Baton has requesters (`--texters`) unless
`--baseline-workers` says otherwise, so the two latencies compare.

    python -m bench.claims --sizes 100000,1000000,10000000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats

from bench.support import (
    auth_headers,
    latency_summary,
    self_assign_campaign,
    servers,
    service,
    write_results,
)
from shared.contract import catalogue as api
from shared.runtime.migrations import migrate_database

BATCH = 300
PLAIN_CLAIM = """
UPDATE conversation SET assignee_id = $2, assigned_at = now(), updated_at = now()
WHERE id IN (
    SELECT id FROM conversation
    WHERE campaign_id = $1 AND status = 'not_started' AND assignee_id IS NULL
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


async def build_campaign(url: str, size: int) -> tuple[int, list[int]]:
    """An active self-assign campaign of `size` Unassigned conversations and enough texters."""
    # 200 for the plain claim, one per Baton batch, and one last request per concurrent requester.
    texters_needed = size // BATCH + 200 + 1000
    conn = await asyncpg.connect(url)
    try:
        return await self_assign_campaign(conn, f"bench {size}", size, texters_needed, BATCH)
    finally:
        await conn.close()


async def plain_claims(
    url: str, campaign: int, texters: list[int], workers: int, seconds: float
) -> dict[str, Any]:
    pool = await asyncpg.create_pool(url, min_size=workers, max_size=workers)
    assert pool is not None
    latencies: list[float] = []
    rows = 0
    texter_ids = iter(texters)
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal rows
        while time.monotonic() < deadline:
            started = time.perf_counter()
            claimed = await pool.fetch(PLAIN_CLAIM, campaign, next(texter_ids), BATCH)
            latencies.append(time.perf_counter() - started)
            rows += len(claimed)
            if not claimed:
                return

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return {"claims": len(latencies), "rows": rows, "seconds": round(elapsed, 2),
            "claims_per_s": round(len(latencies) / elapsed, 1), "rows_per_s": round(rows / elapsed),
            **latency_summary(latencies)}  # fmt: skip


async def reset(url: str, campaign: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """UPDATE conversation SET assignee_id = NULL, assigned_at = NULL
               WHERE campaign_id = $1 AND assignee_id IS NOT NULL""",
            campaign,
        )
        await conn.execute("VACUUM ANALYZE conversation")
    finally:
        await conn.close()


async def baton_drain(
    nats_url: str, campaign: int, texters: list[int], concurrency: int, *, named: bool = True
) -> dict[str, Any]:
    """`named`: each request names the campaign; else none, and the assigner picks it (the
    texters' team's, issue #33: bench/campaign_pick.py)."""
    nc = await nats.connect(nats_url)
    latencies: list[float] = []  # in the order requests finished
    empty_answers: list[float] = []
    handed: list[int] = []
    refusals: dict[str, int] = {}
    # The caller is the token's texter: one token per texter, minted before timing starts.
    callers = itertools.chain([auth_headers(t) for t in texters[200:]], itertools.repeat(None))
    body = json.dumps({"campaign_id": campaign} if named else {}).encode()
    done = False

    async def texter() -> None:
        nonlocal done
        while not done:
            headers = next(callers)
            assert headers is not None, f"ran out of texters; refusals so far: {refusals}"
            started = time.perf_counter()
            reply = json.loads(
                (
                    await nc.request(api.ASSIGN_REQUEST.subject, body, timeout=60, headers=headers)
                ).data
            )
            latencies.append(time.perf_counter() - started)
            if reply["ok"]:
                handed.extend(reply["data"]["conversation_ids"])
            else:
                code = reply["error"]["code"]
                refusals[code] = refusals.get(code, 0) + 1
                if code == "no_more_conversations":
                    empty_answers.append(latencies[-1])
                    done = True

    started = time.perf_counter()
    await asyncio.gather(*(texter() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await nc.close()
    claims = len(latencies) - sum(refusals.values())
    return {"claims": claims, "rows": len(handed), "distinct_rows": len(set(handed)),
            "refusals": refusals, "seconds": round(elapsed, 2),
            "claims_per_s": round(claims / elapsed, 1), "rows_per_s": round(len(handed) / elapsed),
            **latency_summary(latencies),
            "tail": latency_summary(latencies[-max(1, len(latencies) // 50):]),
            "empty_pool_answers": latency_summary(empty_answers)}  # fmt: skip


async def run_size(url: str, nats_url: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    setup = time.perf_counter()
    campaign, texters = await build_campaign(url, size)
    print(f"  built {size:,} conversations in {time.perf_counter() - setup:.0f} s", flush=True)
    # The plain claim takes texters from the front of the list, Baton from after the first 200.
    workers = args.baseline_workers or args.texters
    plain = await plain_claims(url, campaign, texters[:200] * 10_000, workers,
                               args.baseline_seconds)  # fmt: skip
    print(f"  plain claim: {plain}", flush=True)
    result: dict[str, Any] = {"size": size, "plain_claim": plain}
    if args.tally_baseline:
        await reset(url, campaign)
        async with indexes_replaced(url, dict.fromkeys(PAGE_INDEXES), triggers="DISABLE"):
            untallied = await asyncio.to_thread(
                _drain_with_service, url, nats_url, campaign, texters, args
            )
        print(f"  without 0011: {untallied}", flush=True)
        result["baton_without_tallies"] = untallied
    if args.inbox_index_baseline:
        await reset(url, campaign)
        async with indexes_replaced(url, {"conversation_inbox_page": INBOX_INDEX_BEFORE_0020}):
            uncovered = await asyncio.to_thread(
                _drain_with_service, url, nats_url, campaign, texters, args
            )
        print(f"  before 0020: {uncovered}", flush=True)
        result["baton_before_0020"] = uncovered
    if args.floor_baseline:
        await reset(url, campaign)
        unfloored = await asyncio.to_thread(
            _drain_with_service, url, nats_url, campaign, texters, args, "0"
        )
        print(f"  no floor:    {unfloored}", flush=True)
        result["baton_without_pool_floor"] = unfloored
    await reset(url, campaign)
    baton = await asyncio.to_thread(_drain_with_service, url, nats_url, campaign, texters, args)
    print(f"  baton:       {baton}", flush=True)
    assert baton["rows"] == baton["distinct_rows"] == size, "every conversation exactly once"
    result["baton"] = baton
    result["throughput_ratio"] = round(baton["claims_per_s"] / plain["claims_per_s"], 1)
    if args.tally_baseline:
        without = result["baton_without_tallies"]
        result["claims_ratio_with_tallies"] = round(
            baton["claims_per_s"] / without["claims_per_s"], 2
        )
        result["p99_ratio_with_tallies"] = round(baton["p99_ms"] / without["p99_ms"], 2)
    if args.inbox_index_baseline:
        uncovered = result["baton_before_0020"]
        result["claims_ratio_with_covering_inbox_index"] = round(
            baton["claims_per_s"] / uncovered["claims_per_s"], 2
        )
        result["p99_ratio_with_covering_inbox_index"] = round(
            baton["p99_ms"] / uncovered["p99_ms"], 2
        )
    if args.floor_baseline:
        before, after = result["baton_without_pool_floor"]["tail"], baton["tail"]
        result["tail_max_ratio_without_floor"] = round(before["max_ms"] / after["max_ms"], 1)
    return result


# What migration 0011 adds to a claim's work: its triggers, and the page indexes a claim's
# update maintains.
TALLY_TRIGGERS = (("conversation", "conversation_inserted_tallies"),
                  ("conversation", "conversation_updated_tallies"),
                  ("conversation", "conversation_deleted_tallies"),
                  ("message", "message_inserted_tallies"),
                  ("message", "message_updated_tallies"),
                  ("message", "message_deleted_tallies"))  # fmt: skip
PAGE_INDEXES = ("conversation_inbox_page", "conversation_unassigned_page")
# The inbox page's index before migration 0020 made it covering (INCLUDE the page's columns).
INBOX_INDEX_BEFORE_0020 = (
    "CREATE INDEX conversation_inbox_page ON conversation (assignee_id, campaign_id, id)"
    " WHERE status <> 'awaiting_reply'"
)


@contextlib.asynccontextmanager
async def indexes_replaced(
    url: str, replacements: dict[str, str | None], *, triggers: str | None = None
) -> AsyncIterator[None]:
    """Inside the block, each named index dropped and, given a definition, created as that
    (`triggers` DISABLE: the tally triggers off too, as before migration 0011); after it, each as
    the schema has it, from its definition read before."""
    conn = await asyncpg.connect(url)
    try:
        current = {r["indexname"]: r["indexdef"] for r in await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY($1::text[])",
            list(replacements))}  # fmt: skip
        for table, trigger in TALLY_TRIGGERS if triggers else ():
            await conn.execute(f"ALTER TABLE {table} {triggers} TRIGGER {trigger}")
        for index, definition in replacements.items():
            await conn.execute(f"DROP INDEX {index}")
            if definition is not None:
                await conn.execute(definition)
        await conn.execute("VACUUM ANALYZE conversation")
        yield
    finally:
        for table, trigger in TALLY_TRIGGERS if triggers else ():
            await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        for index in replacements:
            await conn.execute(f"DROP INDEX IF EXISTS {index}")
            await conn.execute(current[index])
        await conn.execute("VACUUM ANALYZE conversation")
        await conn.close()


def _drain_with_service(
    url: str, nats_url: str, campaign: int, texters: list[int], args: argparse.Namespace,
    floor_interval: str = "1",
) -> dict[str, Any]:  # fmt: skip
    with service(
        "assigner", url, nats_url, db_pool_max=str(args.pool), max_in_flight=str(args.texters),
        pool_floor_interval_seconds=floor_interval,
    ):  # fmt: skip
        return asyncio.run(baton_drain(nats_url, campaign, texters, args.texters))


async def main(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with servers() as found:
        database_url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(database_url)
        for size in sizes:
            print(f"campaign of {size:,} conversations", flush=True)
            results.append(await run_size(database_url, found.nats_url, size, args))
    print()
    print(
        "| conversations | plain claims/s (p50/p99 ms) | Baton claims/s | Baton rows/s"
        " | Baton p50/p99 ms | ratio | end of drain p50/max ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        p, b = r["plain_claim"], r["baton"]
        print(
            f"| {r['size']:,} | {p['claims_per_s']} ({p['p50_ms']}/{p['p99_ms']})"
            f" | {b['claims_per_s']} | {b['rows_per_s']:,} | {b['p50_ms']}/{b['p99_ms']}"
            f" | {r['throughput_ratio']}x | {b['tail']['p50_ms']}/{b['tail']['max_ms']} |"
        )
        if "baton_without_tallies" in r:
            t = r["baton_without_tallies"]
            print(f"  without 0011 (tallies, page indexes) {t['claims_per_s']} claims/s, p50/p99 ms"
                  f" {t['p50_ms']}/{t['p99_ms']}: with them {r['claims_ratio_with_tallies']}x"
                  f" the claims/s, {r['p99_ratio_with_tallies']}x the p99")  # fmt: skip
        if "baton_before_0020" in r:
            t = r["baton_before_0020"]
            print(f"  before 0020 (inbox index not covering) {t['claims_per_s']} claims/s, p50/p99"
                  f" ms {t['p50_ms']}/{t['p99_ms']}: with it {r['claims_ratio_with_covering_inbox_index']}x"
                  f" the claims/s, {r['p99_ratio_with_covering_inbox_index']}x the p99")  # fmt: skip
        if "baton_without_pool_floor" in r:
            t = r["baton_without_pool_floor"]["tail"]
            print(f"  without the pool floor, end of drain p50/max ms {t['p50_ms']}/{t['max_ms']}"
                  f" ({r['tail_max_ratio_without_floor']}x the max with it)")  # fmt: skip
    if len(results) > 1:
        spread = results[-1]["baton"]["claims_per_s"] / results[0]["baton"]["claims_per_s"]
        print(f"Baton throughput at {sizes[-1]:,} is {spread:.2f}x that at {sizes[0]:,}")
    path = write_results(args.name, {"runs": results, "settings": vars(args)})
    print(f"wrote {path}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--texters", type=int, default=100, help="concurrent requesters")
    parser.add_argument("--baseline-workers", type=int, default=0,
                        help="the plain claim's connections (default: --texters)")  # fmt: skip
    parser.add_argument("--baseline-seconds", type=float, default=20.0)
    # Measured here: 4-8 connections beat 20, which spend their time skipping each other's locks.
    parser.add_argument("--pool", type=int, default=8, help="the assigner's Postgres pool size")
    parser.add_argument("--tally-baseline", action="store_true",
                        help="drain once more first without migration 0011's triggers and"
                             " page indexes")  # fmt: skip
    parser.add_argument("--inbox-index-baseline", action="store_true",
                        help="drain once more first with the inbox page's index as before"
                             " migration 0020 (not covering)")  # fmt: skip
    parser.add_argument("--name", default="claims", help="the results file's name")
    parser.add_argument("--floor-baseline", action="store_true",
                        help="drain once more first with the pool floor never raised")  # fmt: skip
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
