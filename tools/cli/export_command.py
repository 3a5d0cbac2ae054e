"""`baton export CAMPAIGN --messages|--conversations [--status S ...] [--since T] [--until T]
-o FILE`: start a campaign export, wait for it, and download it.

The export runs in the assigner (`baton.admin.campaign.export`); this command asks for its state
until it is complete, then fetches the CSV a part at a time (`baton.query.campaign.export.part`),
writing each part to FILE.part as it arrives, so memory stays flat whatever the size. The whole
is checked against the Object Store's SHA-256 digest before FILE.part becomes FILE. A progress
line goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from shared.contract import catalogue as api
from shared.contract.schemas.exports import ConversationStatus
from shared.runtime.client import BatonClient
from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import add_caller_options
from tools.cli.client import run_command

POLL_SECONDS = 0.5


class ExportFailedError(Exception):
    """The export ended failed, or what arrived is not what was exported."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "export",
        help="export a campaign's conversations or messages as CSV (UTC times)",
        description="Start a campaign export, wait for it, and download it in parts.",
    )
    p.add_argument("campaign_id", type=int)
    kind = p.add_mutually_exclusive_group(required=True)
    kind.add_argument("--messages", dest="kind", action="store_const", const="messages")
    kind.add_argument("--conversations", dest="kind", action="store_const", const="conversations")
    p.add_argument(
        "--status",
        action="append",
        default=[],
        choices=list(get_args(ConversationStatus)),
        help="only conversations in this status (repeat for several)",
    )
    p.add_argument("--since", type=_moment, help="RFC 3339 with an offset, e.g. 2026-12-01T00:00Z")
    p.add_argument("--until", type=_moment, help="RFC 3339 with an offset (not included)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the CSV file to write")
    p.add_argument("--json", action="store_true")
    add_caller_options(p)
    p.set_defaults(run=run)


def _moment(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("a time in RFC 3339, e.g. 2026-12-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("the time needs an offset, e.g. Z or +02:00")
    return moment.isoformat()


def run(args: argparse.Namespace) -> int:
    # A file that cannot be written is found before the export runs on the server, and said to
    # be local, not blamed on NATS.
    problem = _unwritable(args.output)
    if problem is not None:
        print(f"baton export: cannot write {args.output}: {problem}", file=sys.stderr)
        return exit_codes.USAGE
    request: dict[str, Any] = {
        "campaign_id": args.campaign_id,
        "kind": args.kind,
        "status": args.status,
    }
    for name in ("since", "until"):
        if getattr(args, name) is not None:
            request[name] = getattr(args, name)

    async def action(client: BatonClient) -> dict[str, Any]:
        try:
            return await export_to_file(client, request, args.output, _progress_line())
        except ExportFailedError as exc:
            print(f"\nbaton export: {exc}", file=sys.stderr)
            raise SystemExit(exit_codes.FAILED) from exc

    try:
        return run_command("export", args, action)
    except SystemExit as stop:
        return int(stop.code or exit_codes.FAILED)


def _unwritable(path: Path) -> str | None:
    """Why the download could not be written to `path` (through its `.part` file), or None."""
    if path.is_dir():
        return "it is a directory"
    partial = _partial(path)
    existed = partial.exists()
    try:
        with partial.open("ab"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    if not existed:
        partial.unlink(missing_ok=True)
    return None


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".part")


async def export_to_file(
    client: BatonClient, request: dict[str, Any], path: Path, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Start the export, wait for it, download it to `path`; the export's final state."""
    state = await client.call_json(api.CAMPAIGN_EXPORT, request)
    export_id = state["export_id"]
    while state["state"] == "running":
        progress(f"export {export_id}: {state['size_bytes']:,} bytes written")
        await asyncio.sleep(POLL_SECONDS)
        state = await client.call_json(api.CAMPAIGN_EXPORT_READ, {"export_id": export_id})
    if state["state"] != "complete":
        raise ExportFailedError(f"export {export_id} failed: {state['error']}")
    size, digest = state["size_bytes"], hashlib.sha256()
    partial = _partial(path)
    got, after = 0, 0
    with partial.open("wb") as out:
        while got < size:
            part = await client.call_json(
                api.CAMPAIGN_EXPORT_PART, {"export_id": export_id, "after": after}
            )
            data = base64.b64decode(part["data"])
            out.write(data)
            digest.update(data)
            got, after = got + len(data), part["next"]
            progress(
                f"export {export_id}: {state['row_count']:,} rows, downloaded "
                f"{got:,} of {size:,} bytes"
            )
    expected = state["digest"].split("=", 1)[1]
    if base64.urlsafe_b64encode(digest.digest()).decode() != expected or got != size:
        partial.unlink(missing_ok=True)
        raise ExportFailedError(f"export {export_id} arrived damaged (digest or size differs)")
    partial.replace(path)
    progress(f"export {export_id}: {state['row_count']:,} rows, {size:,} bytes in {path}\n")
    return {**state, "file": str(path)}


def _progress_line() -> Callable[[str], None]:
    """One line on stderr, rewritten in place on a terminal; elsewhere, only the last."""
    tty = sys.stderr.isatty()

    def show(text: str) -> None:
        if tty:
            print(f"\r{text}", end="", file=sys.stderr, flush=True)
        elif text.endswith("\n"):
            print(text, end="", file=sys.stderr, flush=True)

    return show
