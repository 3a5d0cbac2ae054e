"""Reassignment of a million conversations in one request, with self-assignment served meanwhile.

A campaign of `--size` Unassigned conversations is reassigned evenly to 100 texters with one
`baton.assign.reassign` (from Unassigned, status any). At the same time `--requesters` texters of a
second campaign keep requesting batches; their latency shows whether the reassignment blocks them.

    python -m bench.reassign --size 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from typing import Any

import asyncpg
import nats

from bench.claims import build_campaign
from bench.support import auth_headers, latency_summary, servers, service, write_results
from shared import catalogue as api
from shared.migrations import migrate_database


async def measure(nats_url: str, big: int, targets: list[int], actor: int, small: int,
                  requesters: list[int], concurrency: int) -> dict[str, Any]:  # fmt: skip
    nc = await nats.connect(nats_url)
    latencies: list[float] = []
    # Each request from a texter of its own (who holds nothing yet), named by the token alone.
    callers = iter([auth_headers(t) for t in requesters])
    body = json.dumps({"campaign_id": small}).encode()
    reassign_done = asyncio.Event()

    async def requester() -> None:
        while not reassign_done.is_set():
            headers = next(callers)
            started = time.perf_counter()
            await nc.request(api.ASSIGN_REQUEST.subject, body, timeout=60, headers=headers)
            latencies.append(time.perf_counter() - started)

    background = [asyncio.create_task(requester()) for _ in range(concurrency)]
    await asyncio.sleep(1.0)  # the requesters are in full swing before the reassignment
    before = len(latencies)
    request = {"campaign_id": big, "status": "any", "from_unassigned": True,
               "to_texter_ids": targets}  # fmt: skip
    started = time.perf_counter()
    reply = json.loads(
        (await nc.request(api.REASSIGN.subject, json.dumps(request).encode(), timeout=600,
                          headers=auth_headers(actor))).data
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    during = latencies[before:]
    reassign_done.set()
    await asyncio.gather(*background)
    await nc.close()
    assert reply["ok"], reply
    counts = list(reply["data"]["per_texter"].values())
    return {"moved": reply["data"]["moved"], "seconds": round(elapsed, 2),
            "rows_per_s": round(reply["data"]["moved"] / elapsed),
            "per_texter_min": min(counts), "per_texter_max": max(counts),
            "self_assign_requests_meanwhile": len(during),
            "self_assign_meanwhile": latency_summary(during)}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        big, big_texters = await build_campaign(url, args.size)
        small, small_texters = await build_campaign(url, 3_000_000 // 10)
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
            figures = await measure(found.nats_url, big, targets, actor, small, requesters,
                                    args.requesters)  # fmt: skip
    print(
        f"reassigned {figures['moved']:,} conversations to 100 texters in {figures['seconds']} s "
        f"({figures['rows_per_s']:,} rows/s;"
        f" {figures['per_texter_min']}-{figures['per_texter_max']} each)"
    )
    meanwhile = figures["self_assign_meanwhile"]
    print(
        f"self-assignment meanwhile: {figures['self_assign_requests_meanwhile']} requests, "
        f"p50 {meanwhile['p50_ms']} ms, p99 {meanwhile['p99_ms']} ms"
    )
    print(f"wrote {write_results('reassign', {'size': args.size, **figures})}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument(
        "--requesters", type=int, default=4, help="concurrent self-assign requesters"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
