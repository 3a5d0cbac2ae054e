"""Campaign exports (issue #33): a campaign's messages exported from Postgres into the JetStream
Object Store by the assigner's exporter, at two sizes, with rows/s and the exporter's peak memory
above its baseline (flat: the same at both sizes).

    python -m bench.exports --rows 1000000 --small 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import asyncpg
import nats

from bench.support import servers, write_results
from services.assigner.exports import export_query
from services.assigner.object_pipe import copy_into_object
from shared.contract import catalogue as api
from shared.runtime.migrations import migrate_database

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


async def build(conn: asyncpg.Connection, messages: int) -> int:
    """A campaign of messages/5 conversations with five messages each (bodies of 40-160 chars)."""
    org = await conn.fetchval("INSERT INTO organization (name) VALUES ('bench') RETURNING id")
    texter = await conn.fetchval("INSERT INTO app_user (name) VALUES ('texter') RETURNING id")
    campaign = await conn.fetchval("INSERT INTO campaign (org_id, title, batch_size, status) "
                                   "VALUES ($1, 'exports', 300, 'active') RETURNING id", org)  # fmt: skip
    conversations = messages // 5
    await conn.execute("""INSERT INTO contact (campaign_id, phone, first_name)
                          SELECT $1, '+1' || (2000000000 + g)::text, 'Name ' || g
                          FROM generate_series(1, $2) g""", campaign, conversations)  # fmt: skip
    await conn.execute("""INSERT INTO conversation (campaign_id, contact_id, status, assignee_id)
                          SELECT $1, id, 'awaiting_reply', $2 FROM contact
                          WHERE campaign_id = $1""", campaign, texter)  # fmt: skip
    await conn.execute(
        """INSERT INTO message (conversation_id, direction, kind, texter_id, body, delivery_status)
           SELECT cv.id, 'outbound', CASE WHEN n = 0 THEN 'initial' ELSE 'reply' END, $2,
                  repeat('Hello there, friend. ', 2 + (cv.id + n)::int % 7), 'delivered'
           FROM conversation cv CROSS JOIN generate_series(0, 4) n WHERE cv.campaign_id = $1""",
        campaign, texter)  # fmt: skip
    await conn.execute("VACUUM ANALYZE")
    return int(campaign)


async def export_once(url: str, nats_url: str, campaign: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(url)
    try:
        js = nc.jetstream()
        store = await js.create_object_store(api.EXPORTS_BUCKET)
        org = await conn.fetchval("SELECT org_id FROM campaign WHERE id = $1", campaign)
        query, query_args = await export_query(
            "messages", campaign_id=campaign, org_id=org, statuses=[], since=None, until=None
        )
        baseline = rss_bytes()
        peak = baseline
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_bytes())
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        copied = await copy_into_object(
            conn, query, query_args, store, f"bench-{campaign}.csv", lambda _: None
        )
        seconds = time.perf_counter() - started
        done.set()
        await sampler
        await store.delete(f"bench-{campaign}.csv")
    finally:
        await conn.close()
        await nc.close()
    return {"rows": copied.rows, "bytes": copied.info.size, "seconds": round(seconds, 2),
            "rows_per_s": round(copied.rows / seconds),
            "peak_rss_above_baseline_mib": round((peak - baseline) / 2**20, 1)}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    figures: dict[str, Any] = {}
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        conn = await asyncpg.connect(url)
        try:
            small = await build(conn, args.small)
            large = await build(conn, args.rows)
        finally:
            await conn.close()
        figures["small"] = await export_once(url, found.nats_url, small)
        figures["large"] = await export_once(url, found.nats_url, large)
    for size in ("small", "large"):
        f = figures[size]
        print(f"exported {f['rows']:,} messages ({f['bytes'] / 2**20:.0f} MiB) in {f['seconds']} s:"
              f" {f['rows_per_s']:,} rows/s, peak memory +{f['peak_rss_above_baseline_mib']} MiB")  # fmt: skip
    print(f"wrote {write_results('exports', {**figures, 'settings': vars(args)})}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
