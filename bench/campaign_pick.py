"""Campaign-less requests (issue #33) beside named ones, in the same run: one campaign limited
to a team of every texter, drained through `baton.assign.request` naming it, then, put back,
drained again by requests naming no campaign (the assigner picks it), alternately, twice each.
The aim: campaign-less within 10% of named.

    python -m bench.campaign_pick --size 100000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from typing import Any

import asyncpg

from bench.claims import baton_drain, build_campaign, reset
from bench.support import servers, service, write_results
from shared.runtime.migrations import migrate_database


async def limit_to_one_team(url: str, campaign: int, texters: list[int]) -> None:
    conn = await asyncpg.connect(url)
    try:
        org = await conn.fetchval("SELECT org_id FROM campaign WHERE id = $1", campaign)
        team = await conn.fetchval("INSERT INTO team (org_id, name) VALUES ($1, 'all') "
                                   "RETURNING id", org)  # fmt: skip
        await conn.execute("INSERT INTO team_member (team_id, user_id) SELECT $1, u "
                           "FROM unnest($2::bigint[]) u", team, texters)  # fmt: skip
        await conn.execute("INSERT INTO campaign_team (campaign_id, team_id) VALUES ($1, $2)",
                           campaign, team)  # fmt: skip
    finally:
        await conn.close()


def _drain(url: str, nats_url: str, campaign: int, texters: list[int],
           args: argparse.Namespace, named: bool) -> dict[str, Any]:  # fmt: skip
    with service("assigner", url, nats_url, db_pool_max=str(args.pool),
                 max_in_flight=str(args.texters)):  # fmt: skip
        return asyncio.run(baton_drain(nats_url, campaign, texters, args.texters, named=named))


async def main(args: argparse.Namespace) -> None:
    runs: dict[str, list[dict[str, Any]]] = {"named": [], "campaign_less": []}
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        campaign, texters = await build_campaign(url, args.size)
        await limit_to_one_team(url, campaign, texters)
        for _ in range(args.rounds):
            for kind, named in (("named", True), ("campaign_less", False)):
                await reset(url, campaign)
                drained = await asyncio.to_thread(_drain, url, found.nats_url, campaign,
                                                  texters, args, named)  # fmt: skip
                assert drained["rows"] == drained["distinct_rows"] == args.size, drained
                print(f"  {kind}: {drained}", flush=True)
                runs[kind].append(drained)
    figures: dict[str, Any] = {"runs": runs}
    for kind in runs:
        figures[f"{kind}_claims_per_s"] = round(
            statistics.median(r["claims_per_s"] for r in runs[kind]), 1
        )
        figures[f"{kind}_p99_ms"] = round(statistics.median(r["p99_ms"] for r in runs[kind]), 1)
    figures["ratio"] = round(
        figures["campaign_less_claims_per_s"] / figures["named_claims_per_s"], 2
    )
    print(f"named {figures['named_claims_per_s']} claims/s (p99 {figures['named_p99_ms']} ms), "
          f"campaign-less {figures['campaign_less_claims_per_s']} claims/s "
          f"(p99 {figures['campaign_less_p99_ms']} ms): {figures['ratio']}x")  # fmt: skip
    print(f"wrote {write_results('campaign_pick', {**figures, 'settings': vars(args)})}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--texters", type=int, default=100, help="concurrent requesters")
    parser.add_argument("--pool", type=int, default=8, help="the assigner's Postgres pool")
    parser.add_argument("--rounds", type=int, default=2)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
