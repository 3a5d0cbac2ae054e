"""What the pool-floor triggers (migration 0002) cost on the hot path: every UPDATE of
`conversation` runs them. Claims (300 rows) and one-row updates (a send or a reply flipping a
status) timed with the trigger on and off, in alternating order, on one connection in one process.

    python -m bench.pool_floor_trigger --rounds 10
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import asyncpg

from bench.support import servers, write_results
from shared.runtime.migrations import migrate_database

TRIGGER = "conversation_updated_lowers_pool_floor"
# Rows taken by id range, so what is timed is the update and its trigger, not a pool scan.
TAKE = """UPDATE conversation SET assignee_id = $2, assigned_at = now(), updated_at = now()
          WHERE campaign_id = $1 AND id > $3 AND id <= $3 + $4"""


async def build(conn: asyncpg.Connection, size: int) -> tuple[int, int]:
    org = await conn.fetchval("INSERT INTO organization (name) VALUES ('bench') RETURNING id")
    texter = await conn.fetchval("INSERT INTO app_user (name) VALUES ('t') RETURNING id")
    campaign = await conn.fetchval(
        "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'trigger', 300) RETURNING id",
        org,
    )
    await conn.execute(
        """INSERT INTO contact (campaign_id, phone)
           SELECT $1, '+1' || (2000000000 + g)::text FROM generate_series(1, $2) g""",
        campaign, size,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO conversation (campaign_id, contact_id) SELECT campaign_id, id FROM contact"
    )
    await conn.execute("VACUUM ANALYZE")
    return campaign, texter


async def measure(url: str, rounds: int, statements: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        shapes = {"claim of 300 rows": 300, "one-row update": 1}
        size = rounds * 2 * statements * sum(shapes.values())
        campaign, texter = await build(conn, size)
        first_id = await conn.fetchval("SELECT min(id) FROM conversation") - 1
        seconds = {(shape, on): 0.0 for shape in shapes for on in (True, False)}
        for round_number in range(rounds):
            # Alternate which goes first, so neither always runs on a warmer table.
            order = (True, False) if round_number % 2 == 0 else (False, True)
            for shape, rows in shapes.items():
                for on in order:
                    await conn.execute(
                        f"ALTER TABLE conversation {'ENABLE' if on else 'DISABLE'} TRIGGER {TRIGGER}"
                    )
                    started = time.perf_counter()
                    for _ in range(statements):
                        await conn.execute(TAKE, campaign, texter, first_id, rows)
                        first_id += rows
                    seconds[(shape, on)] += time.perf_counter() - started
        await conn.execute(f"ALTER TABLE conversation ENABLE TRIGGER {TRIGGER}")
    finally:
        await conn.close()
    runs = rounds * statements
    return {
        shape: {
            "ms_with_trigger": round(seconds[(shape, True)] / runs * 1000, 4),
            "ms_without": round(seconds[(shape, False)] / runs * 1000, 4),
            "ratio": round(seconds[(shape, True)] / seconds[(shape, False)], 3),
        }
        for shape in shapes
    }


async def main(args: argparse.Namespace) -> None:
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        figures = await measure(url, args.rounds, args.statements)
    for shape, f in figures.items():
        print(f"{shape}: {f['ms_with_trigger']} ms with the trigger, {f['ms_without']} ms without"
              f" ({f['ratio']}x)")  # fmt: skip
    print(f"wrote {write_results('pool_floor_trigger', figures)}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--statements", type=int, default=100, help="per round and shape")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
