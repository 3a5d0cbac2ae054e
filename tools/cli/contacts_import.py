"""`baton contacts import FILE.csv --campaign N --as USER`: a CSV of any size, all or nothing.

The whole file is read and checked first (tools/cli/contacts_file.py), holding one row at a
time: a malformed file is exit code 2 with a one-line reason, and nothing is sent. Then the file
is read again and sent in parts, each one `baton.admin.contacts.import` request naming the same
file import; the assigner stages the parts and the last one commits them, all in one
transaction. A failure before the commit aborts the import: the campaign gets every row of the
file or none. Parts and the commit are retried while Baton is unavailable, busy or overloaded
(all are safe to send twice); the summary says what was imported and what was rejected, and
why, and prints whenever anything was sent.

Columns: `phone` (required), `first_name`, `last_name`, `timezone`; any other named column
becomes a custom field. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import msgspec
import nats.errors

from shared.contract import catalogue as api
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError
from shared.contract.schemas.admin import MAX_CONTACTS_PER_REQUEST
from shared.domain.redaction import redacted
from shared.runtime.client import BatonClient, NoServiceError
from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import (
    UsageError,
    add_caller_options,
    credentials_from_args,
)
from shared.runtime.commands.running_up import cli_settings
from shared.runtime.settings import SettingsError
from shared.runtime.tokens import KeyConfigError
from tools.cli.client import connected, print_result
from tools.cli.contacts_file import ContactsFile, FileLayout, MalformedFileError

COMMAND = "baton contacts import"
# A part's contacts as JSON, well below the services' default request limit of 1 MiB.
PART_BYTES = 512 * 1024
# How long one request is retried while Baton answers `unavailable`, `busy` or `overloaded`, or
# not at all: a commit of millions of rows may take minutes, and a retry finds the first answer.
RETRY_SECONDS = 900.0
# Parts sent at once: one being checked, one being copied in, one on its way.
PARTS_IN_FLIGHT = 3
# Rejections listed in the summary (all of them are counted).
EXAMPLES = 10
# Each says nothing of the request was done: `overloaded` too (the assigner's line was full).
_RETRIED_CODES = (ErrorCode.UNAVAILABLE, ErrorCode.BUSY, ErrorCode.OVERLOADED)
_FAILURES = (BatonError, MalformedFileError, TimeoutError, nats.errors.Error, OSError)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contacts = commands.add_parser("contacts", help="contacts").add_subparsers(
        dest="action", required=True
    )
    p = contacts.add_parser(
        "import", help="import a CSV of contacts into a campaign: every row or none"
    )
    p.add_argument("file", type=Path)
    p.add_argument("--campaign", type=int, required=True)
    p.add_argument("--chunk", type=int, default=5000, help="rows per request (at most 10000)")
    p.add_argument("--json", action="store_true")
    add_caller_options(p)
    p.set_defaults(run=run)


class ImportFailedError(Exception):
    """The import did not end as it should; `summary` says how far it got. Unless
    `summary["committed"]`, nothing of the file was imported."""

    def __init__(self, reason: str, exit_code: int, summary: dict[str, Any]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code
        self.summary = summary


async def import_file(
    client: BatonClient,
    path: Path,
    campaign: int,
    chunk: int,
    *,
    layout: FileLayout | None = None,
    retry_seconds: float = RETRY_SECONDS,
) -> dict[str, Any]:
    """Import `path` whole into `campaign`; the summary. `layout` is what reading the file found,
    when it was read already. Raises `MalformedFileError` before anything is sent, and
    `ImportFailedError` once something was and the import was abandoned."""
    file = ContactsFile(path)
    if layout is None:
        layout = file.scan()
    started = time.monotonic()
    part = {"import_id": str(uuid.uuid4()), "rows": layout.rows}
    staged = 0
    result: dict[str, Any] | None = None
    in_flight = _PartsInFlight()
    try:
        try:
            for first_row, contacts, last in _parts(file, layout, chunk):
                request = {**part, "first_row": first_row, "step": "commit" if last else "stage"}
                if first_row == 0 or last:
                    # The first part creates the import the others join; the commit comes after
                    # every other part is in.
                    staged += await in_flight.settled()
                    result = await _send(client, campaign, request, contacts, retry_seconds)
                    staged += len(contacts)
                else:
                    staged += await in_flight.room()
                    in_flight.start(
                        _send(client, campaign, request, contacts, retry_seconds), len(contacts)
                    )
                _progress(staged, layout.rows, started, last)
        finally:
            await in_flight.cancel()  # what failed first stops the others
    except _FAILURES as exc:
        # With no service listening there is nobody to abort with: staged parts, if any, are
        # swept away unused after a day, like any abandoned import.
        ended = (
            "unknown" if isinstance(exc, NoServiceError) else await _abort(client, campaign, part)
        )
        if ended != "committed":
            reason, code = _failure(exc)
            raise ImportFailedError(reason, code, _summary(layout, None, started, staged)) from exc
        # The commit went through though its answer never arrived: ask for it again.
        try:
            result = await _send(
                client, campaign, {**part, "first_row": 0, "step": "commit"}, [], retry_seconds
            )
        except _FAILURES as again:
            reason, code = _failure(again)
            summary = {**_summary(layout, None, started, layout.rows), "committed": True}
            raise ImportFailedError(
                f"imported, but its summary did not arrive: {reason}", exit_codes.FAILED, summary
            ) from again
    return _summary(layout, result, started, layout.rows)


class _PartsInFlight:
    """Parts being sent side by side (the assigner stages them side by side), at most
    `PARTS_IN_FLIGHT`: while one part's phones are checked, another's rows are copied in."""

    def __init__(self) -> None:
        self._sending: dict[asyncio.Task[dict[str, Any]], int] = {}

    async def room(self) -> int:
        """Wait until fewer than the most are in flight; the rows staged meanwhile."""
        staged = 0
        while len(self._sending) >= PARTS_IN_FLIGHT:
            staged += await self._next(asyncio.FIRST_COMPLETED)
        return staged

    def start(self, sending: Coroutine[Any, Any, dict[str, Any]], rows: int) -> None:
        self._sending[asyncio.create_task(sending)] = rows

    async def settled(self) -> int:
        """Wait for every part in flight; the rows they staged. The first failure is raised."""
        staged = 0
        while self._sending:
            staged += await self._next(asyncio.FIRST_EXCEPTION)
        return staged

    async def _next(self, when: str) -> int:
        done, _ = await asyncio.wait(self._sending, return_when=when)
        staged = 0
        for task in done:
            rows = self._sending.pop(task)
            task.result()  # the part's failure, if it failed
            staged += rows
        return staged

    async def cancel(self) -> None:
        """Stop the parts still in flight (what the assigner has of them, an abort drops)."""
        for task in self._sending:
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        self._sending.clear()


def _parts(
    file: ContactsFile, layout: FileLayout, chunk: int
) -> Iterator[tuple[int, list[msgspec.Raw], bool]]:
    """(first row, contacts, whether it is the last part), cut by rows and by bytes."""
    first_row, size = 0, 0
    batch: list[msgspec.Raw] = []
    for row, (_, encoded) in enumerate(file.rows()):
        if row >= layout.rows:
            raise MalformedFileError("the file grew while it was being imported")
        if batch and (len(batch) == chunk or size + len(encoded) > PART_BYTES):
            yield first_row, batch, False
            first_row, size, batch = row, 0, []
        batch.append(msgspec.Raw(encoded))
        size += len(encoded) + 1
    if first_row + len(batch) != layout.rows:
        raise MalformedFileError("the file shrank while it was being imported")
    yield first_row, batch, True


async def _send(
    client: BatonClient,
    campaign: int,
    part: dict[str, Any],
    contacts: list[msgspec.Raw],
    retry_seconds: float,
) -> dict[str, Any]:
    """One request, sent again while Baton is unavailable, busy or overloaded; a part or a commit
    sent twice changes nothing the first did not."""
    give_up = time.monotonic() + retry_seconds
    delay = 0.25
    while True:
        try:
            result: dict[str, Any] = await client.call_json(
                api.CONTACTS_IMPORT, {"campaign_id": campaign, "contacts": contacts, "file": part}
            )
            return result
        except BatonError as exc:
            if exc.code not in _RETRIED_CODES or time.monotonic() + delay > give_up:
                raise
            # An overloaded service says when to come back; wait at least that.
            delay = max(delay, exc.details.get("retry_after_ms", 0) / 1000)
        except TimeoutError:
            # No answer in time (a long commit, a service restarting): a retry finds the first
            # answer. `no responders`, nothing listening at all, was waited out by the client.
            if time.monotonic() + delay > give_up:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def _abort(client: BatonClient, campaign: int, part: dict[str, Any]) -> str:
    """Drop what was staged: "aborted", "committed" (too late: it went in whole), or "unknown"
    (the import is swept away unused after a day)."""
    try:
        await _send(client, campaign, {**part, "first_row": 0, "step": "abort"}, [], 30.0)
    except BatonError as exc:
        return "committed" if exc.code == ErrorCode.CONFLICT else "unknown"
    except (TimeoutError, nats.errors.Error, OSError):
        return "unknown"
    return "aborted"


def _failure(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, MalformedFileError):
        return str(exc), exit_codes.USAGE
    if isinstance(exc, BatonError):
        code = exit_codes.DEPENDENCY if exc.code == ErrorCode.UNAVAILABLE else exit_codes.REFUSED
        return f"{exc.code}: {exc.message}", code
    return f"cannot reach Baton over NATS: {str(exc) or type(exc).__name__}", exit_codes.DEPENDENCY


def _summary(
    layout: FileLayout, result: dict[str, Any] | None, started: float, staged: int
) -> dict[str, Any]:
    elapsed = time.monotonic() - started
    by_reason: dict[str, int] = (result or {}).get("rejected_by_reason", {})
    return {
        "rows": layout.rows,
        "committed": result is not None,
        "rows_staged": staged,
        "imported": result["imported"] if result else 0,
        "duplicates": result["duplicates"] if result else 0,
        "rejected": sum(by_reason.values()),
        "rejected_by_reason": by_reason,
        # Line numbers as in the file: line 1 is the header.
        "first_rejections": [
            {"line": layout.line(r["row"]), "reason": r["reason"]}
            for r in (result["rejected"][:EXAMPLES] if result else [])
        ],
        "seconds": round(elapsed, 1),
        "rows_per_s": round(layout.rows / elapsed) if result and elapsed else None,
    }


def _progress(sent: int, rows: int, started: float, last: bool) -> None:
    # On a terminal the line rewrites itself; in a log, one line per 100,000 rows.
    if not last and (not sys.stderr.isatty() and sent % 100_000):
        return
    rate = sent / max(time.monotonic() - started, 1e-9)
    print(
        f"\r{sent:,} of {rows:,} rows sent ({rate:,.0f} rows/s)",
        end="\n" if last else "",
        file=sys.stderr,
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.chunk <= MAX_CONTACTS_PER_REQUEST:
        print(f"{COMMAND}: --chunk must be 1..{MAX_CONTACTS_PER_REQUEST}", file=sys.stderr)
        return exit_codes.USAGE
    if not args.file.is_file():
        print(f"{COMMAND}: no file {args.file}", file=sys.stderr)
        return exit_codes.USAGE
    try:
        layout = ContactsFile(args.file).scan()
    except MalformedFileError as exc:
        print(f"{COMMAND}: {args.file}: {exc}; nothing was imported", file=sys.stderr)
        return exit_codes.USAGE
    except OSError as exc:
        print(f"{COMMAND}: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return exit_codes.USAGE
    print(f"{layout.rows:,} rows read and checked", file=sys.stderr)
    try:
        settings = cli_settings(args.data_dir)
        credentials = credentials_from_args(args, settings)
    except (SettingsError, KeyConfigError, UsageError) as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return exit_codes.USAGE

    async def go() -> dict[str, Any]:
        async with connected(settings, credentials) as client:
            return await import_file(client, args.file, args.campaign, args.chunk, layout=layout)

    try:
        summary = asyncio.run(go())
    except ImportFailedError as failure:
        print_result(failure.summary, args.json)
        outcome = "" if failure.summary["committed"] else "; nothing was imported"
        if failure.exit_code == exit_codes.DEPENDENCY:
            outcome += f" (NATS at {redacted(settings.nats_url)})"
        print(f"{COMMAND}: {failure.reason}{outcome}", file=sys.stderr)
        return failure.exit_code
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        print(
            f"{COMMAND}: cannot reach Baton over NATS at {redacted(settings.nats_url)}: {exc}",
            file=sys.stderr,
        )
        return exit_codes.DEPENDENCY
    print_result(summary, args.json)
    return exit_codes.OK
