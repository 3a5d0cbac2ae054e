"""What Postgres holds, to show that a refused request changed nothing."""

from __future__ import annotations

from typing import Any

import asyncpg

TABLES = """SELECT tablename FROM pg_tables WHERE schemaname = current_schema()
            AND tablename <> 'schema_migrations' ORDER BY 1"""


async def snapshot(pool: asyncpg.Pool, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every table's row count and, for the tables that change in place, a digest of the rows;
    tables in `exclude` (the one a test expects to change) are left out."""
    tables = [
        row["tablename"] for row in await pool.fetch(TABLES) if row["tablename"] not in exclude
    ]
    counts = {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}
    if "campaign_tally" in counts:
        # The reaper folds the tally's rows in the background (upkeep, as the pool floor is):
        # what it says is its sums, not how many rows hold them.
        counts["campaign_tally"] = await pool.fetchval(
            """SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), ''))
               FROM (SELECT (campaign_id, counted, assignee_id, zone_group, sum(n)) AS r
                     FROM campaign_tally GROUP BY campaign_id, counted, assignee_id, zone_group
                     HAVING sum(n) <> 0) sums"""
        )
    for table in (
        "conversation",
        "message",
        "campaign",
        "organization",
        "organization_member",
        "sending_number",
    ):
        if table in exclude:
            continue
        # The pool floor is upkeep the assigner does in the background, not a request's effect.
        counts[f"{table} digest"] = await pool.fetchval(
            f"""SELECT md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), ''))
                FROM (SELECT to_jsonb(t) - 'pool_floor_id' AS r FROM {table} t) rows"""
        )
    return counts
