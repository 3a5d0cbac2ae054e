"""Reaper pass cost: releasing 100,000 stale replies among 10,000,000 conversations, and the cost
of a pass with nothing to release at 100,000 vs 10,000,000 conversations.

    python -m bench.reaper --small 100000 --large 10000000 --stale 100000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats

from bench.support import servers, write_results
from services.reaper.releasing import Releaser
from shared.runtime.migrations import migrate_database
from shared.runtime.outbox import OutboxPublisher

NOW = datetime(2026, 11, 3, 18, 0, tzinfo=UTC)


async def build(url: str, size: int, stale: int) -> int:
    """A campaign releasing after 60 minutes; every conversation held by one of 1,000 texters,
    awaiting a reply, except `stale` of them that have needed a reply for two hours."""
    conn = await asyncpg.connect(url)
    try:
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('bench') RETURNING id")
        campaign = await conn.fetchval(
            """INSERT INTO campaign (org_id, title, batch_size, status, self_assign,
                                     release_unhandled_after_minutes)
               VALUES ($1, $2, 300, 'active', true, 60) RETURNING id""",
            org,
            f"reaper {size}",
        )
        first_texter = await conn.fetchval(
            "INSERT INTO app_user (name) SELECT 't' || g FROM generate_series(1, 1000) g"
            " RETURNING id"
        )
        every = max(size // stale, 1) if stale else 0
        await conn.execute(
            """INSERT INTO contact (campaign_id, phone)
               SELECT $1, '+1' || (2000000000 + $1::bigint * 100000000 + g)::text
               FROM generate_series(1, $2) g""",
            campaign,
            size,
        )
        await conn.execute(
            """INSERT INTO conversation (campaign_id, contact_id, status, assignee_id,
                                         needs_reply_since)
               SELECT campaign_id, id,
                      CASE WHEN $3 > 0 AND id % $3 = 0 THEN 'needs_reply' ELSE 'awaiting_reply' END,
                      $2 + id % 1000,
                      CASE WHEN $3 > 0 AND id % $3 = 0 THEN $4::timestamptz - interval '2 hours' END
               FROM contact WHERE campaign_id = $1""",
            campaign,
            first_texter,
            every,
            NOW,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return int(campaign)


async def timed_passes(releaser: Releaser, passes: int) -> tuple[list[float], int]:
    seconds: list[float] = []
    released = 0
    for _ in range(passes):
        started = time.perf_counter()
        released += await releaser.pass_once()
        seconds.append(time.perf_counter() - started)
    return seconds, released


async def main(args: argparse.Namespace) -> None:
    figures: dict[str, Any] = {}
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        nc = await nats.connect(found.nats_url)
        releaser = Releaser(pool, OutboxPublisher("bench", pool, nc.jetstream()), clock=lambda: NOW)
        await build(url, args.small, 0)
        idle_small, _ = await timed_passes(releaser, 20)
        figures["idle_pass_ms_at_small"] = round(statistics.median(idle_small) * 1000, 2)
        started = time.perf_counter()
        await build(url, args.large, args.stale)
        print(
            f"built {args.large:,} conversations in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        release_seconds, released = await timed_passes(releaser, 1)
        figures["release_pass_seconds"] = round(release_seconds[0], 3)
        figures["released"] = released
        idle_large, _ = await timed_passes(releaser, 20)
        figures["idle_pass_ms_at_large"] = round(statistics.median(idle_large) * 1000, 2)
        await nc.close()
        await pool.close()
    figures["idle_ratio_large_to_small"] = round(
        figures["idle_pass_ms_at_large"] / figures["idle_pass_ms_at_small"], 2
    )
    print(
        f"one pass released {figures['released']:,} stale replies among {args.large:,} "
        f"conversations in {figures['release_pass_seconds']} s"
    )
    print(
        f"a pass with nothing to release: {figures['idle_pass_ms_at_small']} ms at {args.small:,}, "
        f"{figures['idle_pass_ms_at_large']} ms at {args.small + args.large:,} conversations "
        f"({figures['idle_ratio_large_to_small']}x)"
    )
    print(f"wrote {write_results('reaper', {**figures, 'settings': vars(args)})}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--stale", type=int, default=100_000)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
