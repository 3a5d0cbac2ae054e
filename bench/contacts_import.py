"""Contact import: a CSV of a million rows through `baton contacts import`, rows per second.

python -m bench.contacts_import --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.support import SIGNER, servers, service, write_results
from shared.runtime.commands.credentials import SignedAs
from shared.runtime.commands.running_up import CliSettings
from shared.runtime.migrations import migrate_database
from tools.cli.client import connected
from tools.cli.contacts_import import import_file


async def setup(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('bench') RETURNING id")
        owner = await conn.fetchval("INSERT INTO app_user (name) VALUES ('owner') RETURNING id")
        await conn.execute("INSERT INTO organization_member VALUES ($1, $2, 'owner')", org, owner)
        campaign = await conn.fetchval(
            "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'import', 300) RETURNING id",
            org,
        )
    finally:
        await conn.close()
    return int(campaign), int(owner)


def write_csv(path: Path, rows: int, written: str) -> None:
    """`written`: the numbers in E.164 (+12012000007, as most voter files export them), or as
    people write them, "(201) 200-0007" (the full parse for each)."""
    with path.open("w") as out:
        out.write("phone,first_name,last_name,precinct\n")
        for n in range(rows):
            digits = str(2012000000 + n * 7)
            phone = f"+1{digits}" if written == "e164" else (
                f'"({digits[:3]}) {digits[3:6]}-{digits[6:]}"'
            )  # fmt: skip
            out.write(f"{phone},Voter,Number {n},{n % 97}\n")


async def main(args: argparse.Namespace) -> None:
    with servers() as found, tempfile.TemporaryDirectory() as tmp:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        await migrate_database(url)
        campaign, owner = await setup(url)
        csv_path = Path(tmp) / "contacts.csv"
        write_csv(csv_path, args.rows, args.written)
        with service(
            "assigner",
            url,
            found.nats_url,
            db_pool_max="4",
            import_check_processes=str(args.check_processes),
        ):
            settings = CliSettings(nats_url=found.nats_url)
            async with connected(settings, SignedAs(SIGNER, owner)) as client:
                started = time.perf_counter()
                summary = await import_file(client, csv_path, campaign, args.chunk)
                elapsed = time.perf_counter() - started
        conn = await asyncpg.connect(url)
        conversations = await conn.fetchval(
            "SELECT count(*) FROM conversation WHERE campaign_id = $1", campaign
        )
        await conn.close()
    figures = {
        "rows": args.rows,
        "imported": summary["imported"],
        "rejected": summary["rejected"],
        "conversations": conversations,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(args.rows / elapsed),
        "chunk": args.chunk,
        "check_processes": args.check_processes,
        "written": args.written,
    }
    print(
        f"{args.written} phones checked by {args.check_processes or 'no'} worker processes: "
        f"imported {summary['imported']:,} of {args.rows:,} rows ({summary['rejected']:,} rejected) in "
        f"{elapsed:.1f} s: {figures['rows_per_s']:,} rows/s; {conversations:,} conversations"
    )
    print(f"wrote {write_results('contacts_import', figures)}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--written", choices=("e164", "national"), default="e164")
    parser.add_argument(
        "--check-processes",
        type=int,
        default=2,
        help="the assigner's BATON_IMPORT_CHECK_PROCESSES (0: in its own process)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
