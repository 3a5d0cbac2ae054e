"""`baton contacts import FILE.csv --campaign N --as USER`: a CSV of any size, in chunks.

The file is streamed, never held whole: each chunk is one `baton.admin.contacts.import` request,
which the assigner COPYs into a staging table and inserts in one statement. Columns `phone`
(required), `first_name`, `last_name`, `timezone`; any other column becomes a custom field.
Progress goes to stderr; the summary says what was rejected and why.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from shared.cli import exit_codes
from shared.cli.client import Client, run_command
from shared.cli.credentials import add_caller_options

KNOWN = ("phone", "first_name", "last_name", "timezone")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contacts = commands.add_parser("contacts", help="contacts").add_subparsers(
        dest="action", required=True
    )
    p = contacts.add_parser("import", help="import a CSV of contacts into a campaign")
    p.add_argument("file", type=Path)
    p.add_argument("--campaign", type=int, required=True)
    p.add_argument("--chunk", type=int, default=5000, help="rows per request (at most 10000)")
    p.add_argument("--json", action="store_true")
    add_caller_options(p)
    p.set_defaults(run=run)


def _row(record: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"phone": record.get("phone") or ""}
    for name in ("first_name", "last_name"):
        if record.get(name):
            row[name] = record[name]
    if record.get("timezone"):
        row["timezone"] = record["timezone"]
    fields = {k: v for k, v in record.items() if k and k not in KNOWN and v not in (None, "")}
    if fields:
        row["fields"] = fields
    return row


async def import_file(client: Client, path: Path, campaign: int, chunk: int) -> dict[str, Any]:
    totals: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    started = time.monotonic()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "phone" not in reader.fieldnames:
            raise ValueError(f"{path}: the first line must name the columns, one of them `phone`")
        first_row = 0
        batch: list[dict[str, Any]] = []
        for record in reader:
            batch.append(_row(record))
            if len(batch) == chunk:
                await _send(client, campaign, batch, first_row, totals, reasons, examples)
                first_row += len(batch)
                batch = []
                _progress(totals, started)
        if batch:
            await _send(client, campaign, batch, first_row, totals, reasons, examples)
            _progress(totals, started)
    print(f"\r{totals['rows']:,} rows read", file=sys.stderr)
    elapsed = time.monotonic() - started
    return {
        "rows": totals["rows"],
        "imported": totals["imported"],
        "duplicates": totals["duplicates"],
        "rejected": totals["rejected"],
        "rejected_by_reason": dict(reasons),
        "first_rejections": examples,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(totals["rows"] / elapsed) if elapsed else None,
    }


async def _send(
    client: Client,
    campaign: int,
    batch: list[dict[str, Any]],
    first_row: int,
    totals: Counter[str],
    reasons: Counter[str],
    examples: list[dict[str, Any]],
) -> None:
    result = await client.call("baton.admin.contacts.import", campaign_id=campaign, contacts=batch)
    totals["rows"] += len(batch)
    totals["imported"] += result["imported"]
    totals["duplicates"] += result["duplicates"]
    totals["rejected"] += len(result["rejected"])
    for rejection in result["rejected"]:
        reasons[rejection["reason"].split(":")[0]] += 1
        if len(examples) < 10:
            # Row numbers as in the file: line 1 is the header.
            examples.append(
                {"line": first_row + rejection["row"] + 2, "reason": rejection["reason"]}
            )


def _progress(totals: Counter[str], started: float) -> None:
    # On a terminal the line rewrites itself; in a log, one line per 100,000 rows.
    if not sys.stderr.isatty() and totals["rows"] % 100_000:
        return
    rate = totals["rows"] / max(time.monotonic() - started, 1e-9)
    print(
        f"\r{totals['rows']:,} rows, {totals['imported']:,} imported,"
        f" {totals['rejected']:,} rejected"
        f" ({rate:,.0f} rows/s)",
        end="",
        file=sys.stderr,
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.chunk <= 10_000:
        print("baton contacts import: --chunk must be 1..10000", file=sys.stderr)
        return exit_codes.USAGE
    if not args.file.is_file():
        print(f"baton contacts import: no file {args.file}", file=sys.stderr)
        return exit_codes.USAGE

    async def go(client: Client) -> Any:
        return await import_file(client, args.file, args.campaign, args.chunk)

    return run_command("contacts import", args, go)
