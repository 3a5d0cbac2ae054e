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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import asyncpg
import msgspec
import structlog
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from services.assigner import exports_queries as q
from services.assigner.admin import fetch_campaign_as
from services.assigner.object_pipe import copy_into_object
from shared.contract import catalogue as api
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, not_found
from shared.contract.schemas import exports as s
from shared.domain.clock import Clock, utc_now
from shared.domain.times import rfc3339
from shared.runtime import outbox
from shared.runtime.access import Caller
from shared.runtime.database import Connection
from shared.runtime.query_executor import statement_of

log = structlog.get_logger(__name__)
HEARTBEAT_SECONDS = 5.0
# A running export not heard from for this long is reported failed: its process died.
SILENT_FOR = timedelta(seconds=60)
STREAM = f"OBJ_{api.EXPORTS_BUCKET}"
# Exports copied at once per assigner; more wait their turn, running. Each holds a Postgres
# connection and an upload thread for as long as it runs.
AT_ONCE = 2
# An export's row, as start_export, export and finish_export return it (all of campaign_export).
ExportRecord = q.StartExportRow | q.ExportRow | q.FinishExportRow


class Exports:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        publisher: outbox.OutboxPublisher,
        ttl_hours: int,
        max_bytes: int,
        replicas: int = 1,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._clock = clock
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
            await q.export_turn(conn, campaign_id=request.campaign_id, kind=request.kind)
            running = await q.running_export(
                conn,
                campaign_id=request.campaign_id,
                kind=request.kind,
                silent_seconds=SILENT_FOR.total_seconds(),
            )
            if running is not None:
                raise BatonError(
                    ErrorCode.BUSY,
                    f"export {running} of this campaign's {request.kind} is still "
                    "running; wait for it (baton.query.campaign.export)",
                    {"export_id": running},
                )
            started = self._clock()
            name = f"campaign-{request.campaign_id}-{request.kind}-{started:%Y%m%dT%H%M%S%f}.csv"
            row = await q.start_export(
                conn,
                org_id=campaign.org_id,
                campaign_id=request.campaign_id,
                user_id=caller.user_id,
                kind=request.kind,
                statuses=list(request.status),
                since=since,
                until=until,
                name=name,
                ttl_hours=self._ttl_hours,
            )
        task = asyncio.create_task(self._run(row))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return view(row, self._clock())

    async def read(self, request: s.ReadExport, caller: Caller) -> s.Export:
        async with self._pool.acquire() as conn:
            row = await _export_as(conn, caller, request.export_id)
        return view(row, self._clock())

    async def part(self, request: s.ReadExportPart, caller: Caller) -> s.ExportPart:
        async with self._pool.acquire() as conn:
            row = await _export_as(conn, caller, request.export_id)
        if row.state != "complete":
            # The state as a reader sees it: a running export whose exporter went silent is failed.
            state = view(row, self._clock()).state
            raise BatonError(
                ErrorCode.CONFLICT, f"the export is {state}, not complete", {"state": state}
            )
        subject = f"$O.{api.EXPORTS_BUCKET}.C.{row.object_nuid}"
        try:
            msg = await self._js.get_msg(STREAM, seq=request.after + 1, subject=subject, next=True)
        except NotFoundError:
            raise not_found("export part", request.after) from None
        return s.ExportPart(export_id=row.id, data=msg.data or b"", next=msg.seq or 0)

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

    async def _run(self, row: ExportRecord) -> None:
        written = 0

        def count(n: int) -> None:
            nonlocal written
            written += n

        beating = asyncio.create_task(self._beat(row.id, lambda: written))
        try:
            store = await self._bucket()
            query, args = await export_query(
                row.kind,
                campaign_id=row.campaign_id,
                org_id=row.org_id,
                statuses=row.statuses,
                since=row.since,
                until=row.until,
            )
            async with self._turns, self._pool.acquire() as conn:
                copied = await copy_into_object(conn, query, args, store, row.object_name, count)
            done: tuple[str, int, int | None, str | None, str | None, str | None] = (
                "complete",
                copied.info.size or 0,
                copied.rows,
                copied.info.digest,
                copied.info.nuid,
                None,
            )
        except Exception as exc:  # any failure ends the export as failed, with its reason
            log.exception("export_failed", export_id=row.id)
            with contextlib.suppress(Exception):
                await (await self._bucket()).delete(row.object_name)
            done = ("failed", written, None, None, None, f"{type(exc).__name__}: {exc}")
        finally:
            beating.cancel()
        state, size_bytes, row_count, digest, object_nuid, error = done
        async with self._pool.acquire() as conn, conn.transaction():
            finished = await q.finish_export(
                conn,
                export_id=row.id,
                state=state,
                size_bytes=size_bytes,
                row_count=row_count,
                digest=digest,
                object_nuid=object_nuid,
                error=error,
            )
            if finished is not None:
                event = view(finished, self._clock())
                await outbox.enqueue(
                    conn,
                    api.CAMPAIGN_EXPORTED.subject,
                    f"export:{row.id}",
                    msgspec.json.encode(event),
                )
        self._publisher.nudge()

    async def _beat(self, export_id: int, written: Callable[[], int]) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):  # a missed beat is only a late progress line
                await q.heartbeat(self._pool, export_id=export_id, size_bytes=written())


async def export_query(
    kind: str,
    *,
    campaign_id: int,
    org_id: int,
    statuses: Sequence[str],
    since: datetime | None,
    until: datetime | None,
) -> tuple[str, list[Any]]:
    """The query an export of `kind` copies out, and its arguments."""
    if kind not in ("conversations", "messages"):
        raise ValueError(f"no export of {kind!r}")
    export = q.export_conversations if kind == "conversations" else q.export_messages
    # COPY takes a query and its arguments, not a function: the export's query is still called
    # with named, typed parameters, and what it would send is what COPY runs.
    query, args = await statement_of(
        lambda recorder: export(
            recorder,
            campaign_id=campaign_id,
            org_id=org_id,
            statuses=statuses,
            since=since,
            until=until,
        )
    )
    return query, list(args)


async def _export_as(conn: Connection, caller: Caller, export_id: int) -> q.ExportRow:
    """The export, if the caller has the subject's role in its organization."""
    hidden = not_found("export", export_id)
    row = await q.export(conn, export_id=export_id)
    if row is None:
        raise hidden
    await caller.role_in(conn, row.org_id, hidden)
    return row


def _in_utc_range(moment: datetime) -> bool:
    """Whether the moment has a UTC datetime: "0001-01-01T00:00:00+14:00" has none, and the
    driver, which sends it in UTC, would fail on it."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


def view(row: ExportRecord, now: datetime) -> s.Export:
    # campaign_export_state_check keeps the column to ExportState's values.
    state = cast(s.ExportState, row.state)
    error = row.error
    if state == "running" and row.heartbeat_at < now - SILENT_FOR:
        state, error = "failed", "the exporter stopped (its process ended)"
    return s.Export(
        export_id=row.id,
        org_id=row.org_id,
        campaign_id=row.campaign_id,
        kind=row.kind,
        state=state,
        size_bytes=row.size_bytes,
        row_count=row.row_count,
        digest=row.digest,
        error=error,
        created_at=rfc3339(row.created_at),
        finished_at=rfc3339(row.finished_at) if row.finished_at else None,
        expires_at=rfc3339(row.expires_at),
    )
