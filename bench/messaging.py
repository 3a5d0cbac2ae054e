"""Messages end to end: initials dispatched per second (request -> PubAck on OUTBOUND) with 200
concurrent texters, and replies ingested per second (publish -> needs_reply in Postgres) with the
p99 lag. Spoke's database started failing near 233 messages/s.

Replies are measured twice: live (published while inbound ingests them, so the rate is also
bound by how fast this one client publishes on a shared 2-core machine), and as a drain (the
same number published first with inbound stopped, then inbound started: what it can ingest).

    python -m bench.messaging --messages 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats

from bench.support import (
    add_texters,
    auth_headers,
    latency_summary,
    servers,
    service,
    write_results,
)
from shared.contract import catalogue as api
from shared.runtime.migrations import migrate_database

SENDING_NUMBER = "+14155550000"


async def build(
    url: str, messages: int, texters: int
) -> tuple[int, dict[int, list[int]], list[str]]:
    """An active campaign whose `messages` conversations are split among `texters`."""
    conn = await asyncpg.connect(url)
    try:
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('bench') RETURNING id")
        # The organization owns the number its replies come to.
        await conn.execute(
            "INSERT INTO sending_number (phone, org_id) VALUES ($1, $2)", SENDING_NUMBER, org
        )
        campaign = await conn.fetchval(
            """INSERT INTO campaign (org_id, title, batch_size, status, texting_hours_start,
                                     texting_hours_end, sending_number)
               VALUES ($1, 'messaging', 300, 'active', 0, 24, $2) RETURNING id""",
            org,
            SENDING_NUMBER,
        )
        # Texters of the campaign, as a texter must be to send in it.
        ids = await add_texters(conn, org, campaign, texters)
        await conn.execute(
            """INSERT INTO contact (campaign_id, phone)
               SELECT $1, '+1' || (6505550000 + g)::text FROM generate_series(1, $2) g""",
            campaign,
            messages,
        )
        rows = await conn.fetch(
            """INSERT INTO conversation (campaign_id, contact_id, assignee_id)
               SELECT campaign_id, id, ($2::bigint[])[(row_number() OVER (ORDER BY id) - 1) % $3 + 1]
               FROM contact WHERE campaign_id = $1
               RETURNING id, assignee_id""",
            campaign,
            ids,
            texters,
        )
        phones = [r["phone"] for r in await conn.fetch(
            "SELECT phone FROM contact WHERE campaign_id = $1 ORDER BY id", campaign)]  # fmt: skip
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    held: dict[int, list[int]] = {}
    for row in rows:
        held.setdefault(row["assignee_id"], []).append(row["id"])
    return campaign, held, phones


async def send_initials(nats_url: str, held: dict[int, list[int]], expected: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    latencies: list[float] = []
    refused: list[str] = []

    async def texter(headers: dict[str, str], conversations: list[int]) -> None:
        for conversation in conversations:
            body = json.dumps({"conversation_id": conversation,
                               "body": "Hi! Can we count on your vote?",
                               "idempotency_key": str(uuid.uuid4())}).encode()  # fmt: skip
            started = time.perf_counter()
            reply = json.loads(
                (await nc.request(api.SEND_INITIAL.subject, body, timeout=60, headers=headers)).data
            )
            latencies.append(time.perf_counter() - started)
            if not reply["ok"]:
                refused.append(reply["error"]["code"])

    # Each texter sends with its own token (the sender checks the caller holds the conversation).
    callers = {t: auth_headers(t) for t in held}
    started = time.perf_counter()
    await asyncio.gather(*(texter(callers[t], c) for t, c in held.items()))
    requests_done = time.perf_counter() - started
    while (await js.stream_info("OUTBOUND")).state.messages < expected:
        await asyncio.sleep(0.02)
    end_to_end = time.perf_counter() - started
    await nc.close()
    assert not refused, refused[:5]
    return {"messages": expected, "requests_seconds": round(requests_done, 2),
            "end_to_end_seconds": round(end_to_end, 2),
            "messages_per_s": round(expected / end_to_end),
            "request": latency_summary(latencies)}  # fmt: skip


async def publish_replies(nats_url: str, phones: list[str], label: str) -> float:
    """Seconds to publish one reply from each of `phones` (acknowledged by the stream)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    started = time.perf_counter()
    for start in range(0, len(phones), 500):
        await asyncio.gather(*(
            js.publish(api.INBOUND_SMS.subject, json.dumps({
                "provider_message_id": f"{label}-{i}", "from": phone, "to": SENDING_NUMBER,
                "body": "Yes!", "received_at": datetime.now(UTC).isoformat()}).encode(),
                headers={"Nats-Msg-Id": f"{label}-{i}"})
            for i, phone in enumerate(phones[start:start + 500], start)
        ))  # fmt: skip
    seconds = time.perf_counter() - started
    await nc.close()
    return seconds


async def drain_replies(
    url: str, nats_url: str, phones: list[str], pool_size: int
) -> dict[str, Any]:
    """Every conversation back to awaiting a reply, a reply from each published with inbound
    stopped, then inbound started: seconds until all are needs_reply."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE conversation SET status = 'awaiting_reply', needs_reply_since = NULL"
        )
        await conn.execute("VACUUM ANALYZE conversation")
        published = await publish_replies(nats_url, phones, "drain")
        started = time.perf_counter()
        with service("inbound", url, nats_url, db_pool_max=str(pool_size)):
            while await conn.fetchval(
                "SELECT count(*) FROM conversation WHERE status = 'needs_reply'"
            ) < len(phones):
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return {"replies": len(phones), "publish_seconds": round(published, 2),
            "seconds_from_start": round(elapsed, 2),
            "replies_per_s": round(len(phones) / elapsed)}  # fmt: skip


async def ingest_replies(url: str, nats_url: str, phones: list[str]) -> dict[str, Any]:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    started = time.perf_counter()
    published = await publish_replies(nats_url, phones, "bench")
    while await pool.fetchval(
        "SELECT count(*) FROM conversation WHERE status = 'needs_reply'"
    ) < len(phones):
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    # A reply's lag: from the moment it was published (its `received_at`, written just before)
    # to the flip of its conversation (`needs_reply_since`, the flipping transaction's start).
    lags = await pool.fetchrow(
        """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) * 1000 AS p50_ms,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) * 1000 AS p99_ms
           FROM (SELECT extract(epoch FROM v.needs_reply_since - m.provider_received_at) AS lag
                 FROM conversation v JOIN message m ON m.conversation_id = v.id
                 WHERE v.status = 'needs_reply' AND m.direction = 'inbound') x"""
    )
    await pool.close()
    return {"replies": len(phones), "publish_seconds": round(published, 2),
            "seconds": round(elapsed, 2), "replies_per_s": round(len(phones) / elapsed),
            "lag_p50_ms": round(lags["p50_ms"], 1), "lag_p99_ms": round(lags["p99_ms"], 1)}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        _, held, phones = await build(url, args.messages, args.texters)
        with service("sender", url, found.nats_url, db_pool_max=str(args.pool)):
            sending = await send_initials(found.nats_url, held, args.messages)
        print(f"initials: {sending}", flush=True)
        with service("inbound", url, found.nats_url, db_pool_max=str(args.pool)):
            receiving = await ingest_replies(url, found.nats_url, phones)
        print(f"replies:  {receiving}", flush=True)
        # (Includes the service's start, about a second, in its time.)
        drained = await drain_replies(url, found.nats_url, phones, args.pool)
        print(f"drain:    {drained}", flush=True)
    figures = {"initials": sending, "replies": receiving, "replies_drain": drained,
               "settings": vars(args)}  # fmt: skip
    print(f"wrote {write_results('messaging', figures)}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--texters", type=int, default=200)
    parser.add_argument("--pool", type=int, default=8)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
