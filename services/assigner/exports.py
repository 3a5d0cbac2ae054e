"""Campaign exports (issue #33; ThruText's conversation and message exports, Spoke Rewired's
`export-campaign.ts`): a campaign's conversations or messages as CSV, streamed from Postgres
into the JetStream Object Store (object_pipe.py), answered at once with the export's id.

The export runs in the assigner beside the requests, on a connection of its own, and says how
far it got every few seconds (`heartbeat_at`, `size_bytes`). It ends `complete` (size, rows,
digest) or `failed`, with an event on EVENTS either way; an export whose process died stops
beating and is reported `failed`. Objects expire with the bucket's age limit,
BATON_EXPORT_TTL_HOURS, and the bucket holds BATON_EXPORT_MAX_BYTES at most (an export that would
pass it fails). One export per campaign and kind runs at a time: starting another while it runs
is refused `busy`, naming it (`export_id`), since its filters may differ. Clients, who may not
touch `$JS.API` under the production NATS config, fetch the object through
`baton.query.campaign.export.part`, one stored chunk per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
import structlog
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from services.assigner.admin import fetch_campaign_as
from services.assigner.object_pipe import copy_into_object
from shared.contract import catalogue as api
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, not_found
from shared.contract.schemas import exports as s
from shared.domain.times import rfc3339
from shared.runtime import outbox
from shared.runtime.access import Caller
from shared.runtime.database import Connection
from shared.runtime.queries import load_queries

QUERIES = load_queries("services.assigner", "exports.sql")
log = structlog.get_logger(__name__)
HEARTBEAT_SECONDS = 5.0
# A running export not heard from for this long is reported failed: its process died.
SILENT_FOR = timedelta(seconds=60)
STREAM = f"OBJ_{api.EXPORTS_BUCKET}"
# Exports copied at once per assigner; more wait their turn, running. Each holds a Postgres
# connection and an upload thread for as long as it runs.
AT_ONCE = 2


class Exports:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        publisher: outbox.OutboxPublisher,
        ttl_hours: int,
        max_bytes: int,
        replicas: int = 1,
    ) -> None:
        self._pool = pool
        self._js = js
        self._publisher = publisher
        self._ttl_hours = ttl_hours
        self._max_bytes = max_bytes
        self._replicas = replicas
        self._store: ObjectStore | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._turns = asyncio.Semaphore(AT_ONCE)

    async def start(self, request: s.StartExport, caller: Caller) -> s.Export:
        since, until = request.since, request.until
        for name, moment in (("since", since), ("until", until)):
            if moment is not None and moment.tzinfo is None:
                raise bad_request(f"{name} needs an offset (RFC 3339, e.g. ...Z)", field=name)
            if moment is not None and not _in_utc_range(moment):
                raise bad_request(f"{name} is outside the years 1 to 9999 in UTC", field=name)
        if since is not None and until is not None and since >= until:
            raise bad_request("since must be before until", field="since")
        await self._bucket()  # before anything is stored: NATS unreachable is `unavailable`
        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await fetch_campaign_as(conn, caller, request.campaign_id)
            await conn.execute(QUERIES["export_turn"], campaign["id"], request.kind)
            running = await conn.fetchval(
                QUERIES["running_export"], campaign["id"], request.kind, SILENT_FOR.total_seconds()
            )
            if running is not None:
                raise BatonError(
                    ErrorCode.BUSY,
                    f"export {running} of this campaign's {request.kind} is still "
                    "running; wait for it (baton.query.campaign.export)",
                    {"export_id": running},
                )
            name = (
                f"campaign-{campaign['id']}-{request.kind}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.csv"
            )
            row = await conn.fetchrow(
                QUERIES["start_export"],
                campaign["org_id"],
                campaign["id"],
                caller.user_id,
                request.kind,
                list(request.status),
                since,
                until,
                name,
                self._ttl_hours,
            )
            assert row is not None
        task = asyncio.create_task(self._run(row))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return view(row)

    async def read(self, request: s.ReadExport, caller: Caller) -> s.Export:
        async with self._pool.acquire() as conn:
            row = await _export_as(conn, caller, request.export_id)
        return view(row)

    async def part(self, request: s.ReadExportPart, caller: Caller) -> s.ExportPart:
        async with self._pool.acquire() as conn:
            row = await _export_as(conn, caller, request.export_id)
        if row["state"] != "complete":
            raise BatonError(
                ErrorCode.CONFLICT,
                f"the export is {view(row).state}, not complete",
                {"state": view(row).state},
            )
        subject = f"$O.{api.EXPORTS_BUCKET}.C.{row['object_nuid']}"
        try:
            msg = await self._js.get_msg(STREAM, seq=request.after + 1, subject=subject, next=True)
        except NotFoundError:
            raise not_found("export part", request.after) from None
        return s.ExportPart(export_id=row["id"], data=msg.data or b"", next=msg.seq or 0)

    async def _bucket(self) -> ObjectStore:
        """The exports bucket, made on first use with its age and size limits (a bucket made
        before with other limits is given these: the settings decide)."""
        if self._store is None:
            ttl = self._ttl_hours * 3600.0
            try:
                store = await self._js.object_store(api.EXPORTS_BUCKET)
            except BucketNotFoundError:
                self._store = await self._js.create_object_store(
                    api.EXPORTS_BUCKET,
                    ObjectStoreConfig(
                        description="Baton's campaign exports (CSV)",
                        ttl=ttl,
                        max_bytes=self._max_bytes,
                        replicas=self._replicas,
                    ),
                )
                return self._store
            config = (await self._js.stream_info(STREAM)).config
            if (config.max_bytes, config.max_age) != (self._max_bytes, ttl):
                await self._js.update_stream(
                    dataclasses.replace(config, max_bytes=self._max_bytes, max_age=ttl)
                )
            self._store = store
        return self._store

    async def _run(self, row: asyncpg.Record) -> None:
        written = 0

        def count(n: int) -> None:
            nonlocal written
            written += n

        beating = asyncio.create_task(self._beat(row["id"], lambda: written))
        try:
            store = await self._bucket()
            query = QUERIES[f"export_{row['kind']}"]
            args = [
                row["campaign_id"],
                row["org_id"],
                list(row["statuses"]),
                row["since"],
                row["until"],
            ]
            async with self._turns, self._pool.acquire() as conn:
                copied = await copy_into_object(conn, query, args, store, row["object_name"], count)
            done: tuple[str, int, int | None, str | None, str | None, str | None] = (
                "complete",
                copied.info.size or 0,
                copied.rows,
                copied.info.digest,
                copied.info.nuid,
                None,
            )
        except Exception as exc:  # any failure ends the export as failed, with its reason
            log.exception("export_failed", export_id=row["id"])
            with contextlib.suppress(Exception):
                await (await self._bucket()).delete(row["object_name"])
            done = ("failed", written, None, None, None, f"{type(exc).__name__}: {exc}")
        finally:
            beating.cancel()
        async with self._pool.acquire() as conn, conn.transaction():
            finished = await conn.fetchrow(QUERIES["finish_export"], row["id"], *done)
            if finished is not None:
                event = view(finished)
                await outbox.enqueue(
                    conn,
                    api.CAMPAIGN_EXPORTED.subject,
                    f"export:{row['id']}",
                    msgspec.json.encode(event),
                )
        self._publisher.nudge()

    async def _beat(self, export_id: int, written: Callable[[], int]) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):  # a missed beat is only a late progress line
                await self._pool.execute(QUERIES["heartbeat"], export_id, written())


async def _export_as(conn: Connection, caller: Caller, export_id: int) -> asyncpg.Record:
    """The export, if the caller has the subject's role in its organization."""
    hidden = not_found("export", export_id)
    row = await conn.fetchrow(QUERIES["export"], export_id)
    if row is None:
        raise hidden
    await caller.role_in(conn, row["org_id"], hidden)
    return row


def _in_utc_range(moment: datetime) -> bool:
    """Whether the moment has a UTC datetime: "0001-01-01T00:00:00+14:00" has none, and the
    driver, which sends it in UTC, would fail on it."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def view(row: asyncpg.Record) -> s.Export:
    state = row["state"]
    error = row["error"]
    if state == "running" and row["heartbeat_at"] < datetime.now(UTC) - SILENT_FOR:
        state, error = "failed", "the exporter stopped (its process ended)"
    return s.Export(
        export_id=row["id"],
        org_id=row["org_id"],
        campaign_id=row["campaign_id"],
        kind=row["kind"],
        state=state,
        size_bytes=row["size_bytes"],
        row_count=row["row_count"],
        digest=row["digest"],
        error=error,
        created_at=rfc3339(row["created_at"]),
        finished_at=rfc3339(row["finished_at"]) if row["finished_at"] else None,
        expires_at=rfc3339(row["expires_at"]),
    )
