"""Issue #33, campaign exports, on real NATS (JetStream Object Store) and Postgres: 10,000
messages exported and downloaded in parts, their count and checksum against Postgres; the
conversations' export with its filters; CSV a spreadsheet opens safely; the event; the bucket's
age limit; and another organization's campaign is `not_found`."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import ObjectStoreConfig
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from shared.contract import catalogue as api
from shared.runtime.settings import CommonSettings, load_settings
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.services import running
from tests.support.waiting import eventually
from tools.cli.export_command import export_to_file

pytestmark = pytest.mark.integration

# Bodies a spreadsheet would run as formulas, and ones that must stay as they are.
TRICKY = {
    "=1+1": "'=1+1", "+SUM(A1:A2)": "'+SUM(A1:A2)", "-1+1": "'-1+1", "@cmd": "'@cmd",
    "\tTab": "'\tTab", "\rCR": "'\rCR", "+14155550100": "+14155550100", "-12.5": "-12.5",
    "-7": "-7", 'say "hi", ok': 'say "hi", ok', "line\nbreak": "line\nbreak", "émoji 🎉": "émoji 🎉",
}  # fmt: skip
MESSAGES = 10_000


async def _campaign_with_messages(assigner: Baton, pool: asyncpg.Pool) -> dict[str, Any]:
    """2,000 conversations, half held by the texter as awaiting_reply, and five messages each:
    10,000 rows, the first bodies the tricky ones. Message rows are written straight to
    Postgres: the export reads whatever the sender and inbound stored."""
    c = await campaign_with_texters(assigner, texters=1, contacts=2_000, batch_size=1_000)
    texter = c["texters"][0]
    c["moderator"] = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                          name="=Mo", role="moderator"))["user_id"]  # fmt: skip
    await pool.execute(
        """UPDATE conversation SET assignee_id = $2, status = 'awaiting_reply',
                  assigned_at = now()
           WHERE campaign_id = $1 AND id IN (SELECT id FROM conversation WHERE campaign_id = $1
                                             ORDER BY id LIMIT 1000)""", c["campaign"], texter)  # fmt: skip
    bodies = list(TRICKY)
    await pool.execute(
        """INSERT INTO message (conversation_id, direction, kind, texter_id, body, delivery_status,
                                error_code, created_at)
           SELECT cv.id, CASE WHEN n % 2 = 0 THEN 'outbound' ELSE 'inbound' END,
                  CASE WHEN n = 0 THEN 'initial' WHEN n % 2 = 0 THEN 'reply' ELSE 'contact' END,
                  CASE WHEN n % 2 = 0 THEN $2::bigint END,
                  coalesce(($3::text[])[row_number() OVER (ORDER BY cv.id, n)], 'Hi ' || cv.id),
                  CASE WHEN n % 2 = 0 THEN 'delivered' ELSE 'received' END,
                  CASE WHEN n = 4 THEN '30007' END,
                  timestamptz '2026-12-01 00:00Z' + make_interval(mins => (cv.id % 1000)::int + n)
           FROM conversation cv CROSS JOIN generate_series(0, 4) AS n
           WHERE cv.campaign_id = $1""", c["campaign"], texter, bodies)  # fmt: skip
    return c


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _checksum(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(json.dumps([list(map(str, r)) for r in rows]).encode()).hexdigest()


async def _export(assigner: Baton, as_user: int, path: Path, **request: Any) -> dict[str, Any]:
    seen: list[str] = []
    state = await export_to_file(assigner.client(as_user), request, path, seen.append)
    assert seen and seen[-1].endswith("\n")  # the progress line's last word
    return state


async def test_10000_messages_are_exported_in_parts_matching_postgres_row_for_row(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient, tmp_path: Path
) -> None:
    c = await _campaign_with_messages(assigner, pool)
    events = await nc.jetstream().subscribe(api.CAMPAIGN_EXPORTED.pattern, stream="EVENTS")
    path = tmp_path / "messages.csv"
    state = await _export(assigner, c["moderator"], path, campaign_id=c["campaign"],
                          kind="messages")  # fmt: skip
    rows = _rows(path)
    assert state["state"] == "complete" and state["row_count"] == len(rows) == MESSAGES
    assert state["size_bytes"] == path.stat().st_size
    expected = await pool.fetch(
        """SELECT m.id, m.conversation_id, ct.phone, m.direction, m.kind, csv_cell(m.body),
                  m.texter_id, m.delivery_status, m.error_code, m.created_at
           FROM message m JOIN conversation cv ON cv.id = m.conversation_id
           JOIN contact ct ON ct.id = cv.contact_id
           WHERE cv.campaign_id = $1 ORDER BY m.conversation_id, m.id""", c["campaign"])  # fmt: skip
    got = [(r["message_id"], r["conversation_id"], r["phone"], r["direction"], r["kind"],
            r["body"], r["texter_id"], r["provider_status"], r["provider_code"],
            datetime.fromisoformat(r["created_at"])) for r in rows]  # fmt: skip
    want = [(*(("" if v is None else v) for v in tuple(r)[:-1]), r["created_at"])
            for r in expected]  # fmt: skip
    assert _checksum(got) == _checksum(want)
    # RFC 3339 in UTC, and what a spreadsheet would run is neutralised, phones and numbers not.
    assert all(r["created_at"].endswith("Z") for r in rows)
    bodies = {r["body"] for r in rows}
    assert set(TRICKY.values()) <= bodies and not {"=1+1", "-1+1", "@cmd"} & bodies
    assert {r["phone"][0] for r in rows} == {"+"}
    event = json.loads((await events.next_msg(timeout=10)).data)
    assert (event["export_id"], event["state"], event["row_count"]) == (
        state["export_id"], "complete", MESSAGES)  # fmt: skip
    assert event["org_id"] == state["org_id"] == c["org"]
    # The bucket keeps objects BATON_EXPORT_TTL_HOURS (72 by default).
    info = await nc.jetstream().stream_info(f"OBJ_{api.EXPORTS_BUCKET}")
    assert info.config.max_age == 72 * 3600
    # It holds BATON_EXPORT_MAX_BYTES at most (10 GiB by default).
    assert info.config.max_bytes == 10 * 2**30


async def test_conversations_export_with_status_and_time_filters(
    assigner: Baton, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    c = await _campaign_with_messages(assigner, pool)
    await pool.execute("INSERT INTO opt_out (org_id, phone) SELECT $1, ct.phone FROM contact ct "
                       "WHERE ct.campaign_id = $2 ORDER BY ct.id LIMIT 3", c["org"],
                       c["campaign"])  # fmt: skip
    path = tmp_path / "awaiting.csv"
    state = await _export(assigner, c["owner"], path, campaign_id=c["campaign"],
                          kind="conversations", status=["awaiting_reply"])  # fmt: skip
    rows = _rows(path)
    assert state["row_count"] == len(rows) == 1000
    assert {r["status"] for r in rows} == {"awaiting_reply"}
    assert {r["holder_id"] for r in rows} == {str(c["texters"][0])}
    assert sum(r["opted_out"] == "t" for r in rows) == 3
    assert all(r["assigned_at"].endswith("Z") for r in rows)
    # Messages in a time range: [since, until).
    since = datetime(2026, 12, 1, 0, 10, tzinfo=UTC)
    until = since + timedelta(minutes=5)
    path = tmp_path / "window.csv"
    state = await _export(assigner, c["owner"], path, campaign_id=c["campaign"],
                          kind="messages", since=since.isoformat(),
                          until=until.isoformat())  # fmt: skip
    expected = await pool.fetchval(
        """SELECT count(*) FROM message m JOIN conversation cv ON cv.id = m.conversation_id
           WHERE cv.campaign_id = $1 AND m.created_at >= $2 AND m.created_at < $3""",
        c["campaign"], since, until)  # fmt: skip
    assert 0 < expected < MESSAGES
    assert state["row_count"] == len(_rows(path)) == expected


async def test_who_may_export_and_what_bad_input_gets(assigner: Baton, pool: asyncpg.Pool) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=3)
    other = await campaign_with_texters(assigner, texters=1, contacts=1)
    start = {"campaign_id": c["campaign"], "kind": "messages"}
    assert (await assigner.error(api.CAMPAIGN_EXPORT, as_user=other["owner"],
                                 **start)).code == "not_found"  # fmt: skip
    assert (await assigner.error(api.CAMPAIGN_EXPORT, as_user=c["texters"][0],
                                 **start)).code == "forbidden"  # fmt: skip
    for bad in ({"since": "2026-12-01T00:00:00"}, {"since": "2026-12-02T00:00:00Z",
                                                   "until": "2026-12-01T00:00:00Z"},
                {"status": ["nonsense"]}, {"kind": "contacts"}):  # fmt: skip
        refusal = await assigner.error(api.CAMPAIGN_EXPORT, as_user=c["owner"], **{**start, **bad})
        assert refusal.code == "bad_request", bad
    # Moments with no UTC datetime (the driver sends UTC) are the caller's mistake, not `internal`.
    for field, moment in (("since", "0001-01-01T00:00:00+14:00"),
                          ("until", "9999-12-31T23:59:59-14:00")):  # fmt: skip
        refusal = await assigner.error(api.CAMPAIGN_EXPORT, as_user=c["owner"],
                                       **{**start, field: moment})  # fmt: skip
        assert refusal.code == "bad_request" and refusal.details["field"] == field, moment
    assert await pool.fetchval("SELECT count(*) FROM campaign_export") == 0
    started = await assigner.call(api.CAMPAIGN_EXPORT, as_user=c["owner"], **start)
    assert started["state"] in ("running", "complete")
    for route, payload in ((api.CAMPAIGN_EXPORT_READ, {"export_id": started["export_id"]}),
                           (api.CAMPAIGN_EXPORT_PART, {"export_id": started["export_id"]})):  # fmt: skip
        assert (await assigner.error(route, as_user=other["owner"],
                                     **payload)).code == "not_found"  # fmt: skip

    async def complete() -> dict[str, Any] | None:
        state: dict[str, Any] = await assigner.call(api.CAMPAIGN_EXPORT_READ, as_user=c["owner"],
                                                    export_id=started["export_id"])  # fmt: skip
        return None if state["state"] == "running" else state

    state = await eventually(complete)
    # No messages yet: the CSV is its header alone.
    assert (state["state"], state["row_count"]) == ("complete", 0)


async def test_an_export_whose_exporter_died_is_reported_failed(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    """A crash mid-export leaves a running row nobody beats for; readers see it failed."""
    c = await campaign_with_texters(assigner, texters=1, contacts=1)
    export_id = await pool.fetchval(
        """INSERT INTO campaign_export (org_id, campaign_id, requested_by, kind, object_name,
                                        heartbeat_at, expires_at)
           VALUES ($1, $2, $3, 'messages', 'gone.csv', now() - interval '2 minutes',
                   now() + interval '72 hours') RETURNING id""",
        c["org"], c["campaign"], c["owner"])  # fmt: skip
    state = await assigner.call(api.CAMPAIGN_EXPORT_READ, as_user=c["owner"], export_id=export_id)
    assert state["state"] == "failed" and "stopped" in state["error"]
    refusal = await assigner.error(api.CAMPAIGN_EXPORT_PART, as_user=c["owner"],
                                   export_id=export_id)  # fmt: skip
    assert refusal.code == "conflict" and refusal.details == {"state": "failed"}


async def test_objects_expire_after_baton_export_ttl_hours(
    settings: CommonSettings, nc: NatsClient, tmp_path: Path
) -> None:
    own = load_settings(AssignerSettings, {
        "BATON_DATABASE_URL": settings.database_url, "BATON_NATS_URL": settings.nats_url,
        "BATON_DB_POOL_MIN": "1", "BATON_EXPORT_TTL_HOURS": "5"})  # fmt: skip
    assert own.export_ttl_hours == 5
    async with running(ASSIGNER, own):
        baton = Baton(nc)
        c = await campaign_with_texters(baton, texters=1, contacts=2)
        state = await _export(baton, c["owner"], tmp_path / "c.csv", campaign_id=c["campaign"],
                              kind="conversations")  # fmt: skip
    info = await nc.jetstream().stream_info(f"OBJ_{api.EXPORTS_BUCKET}")
    assert info.config.max_age == 5 * 3600
    created = datetime.fromisoformat(state["created_at"])
    assert datetime.fromisoformat(state["expires_at"]) - created == timedelta(hours=5)


async def _running_export(pool: asyncpg.Pool, c: dict[str, Any], kind: str, beat: str) -> int:
    """A running export row whose exporter last beat `beat` ago (as one mid-copy, or dead)."""
    export_id: int = await pool.fetchval(
        """INSERT INTO campaign_export (org_id, campaign_id, requested_by, kind, object_name,
                                        heartbeat_at, expires_at)
           VALUES ($1, $2, $3, $4, 'running.csv', now() - $5::text::interval,
                   now() + interval '72 hours') RETURNING id""",
        c["org"], c["campaign"], c["owner"], kind, beat)  # fmt: skip
    return export_id


async def test_one_export_per_campaign_and_kind_runs_at_a_time(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=2)
    running = await _running_export(pool, c, "messages", "1 second")
    before = await pool.fetchval("SELECT count(*) FROM campaign_export")
    second = await assigner.error(api.CAMPAIGN_EXPORT, as_user=c["owner"],
                                  campaign_id=c["campaign"], kind="messages")  # fmt: skip
    assert second.code == "busy" and second.details == {"export_id": running}
    assert await pool.fetchval("SELECT count(*) FROM campaign_export") == before
    # The other kind is another export; a running one whose exporter died blocks nothing.
    other = await assigner.call(api.CAMPAIGN_EXPORT, as_user=c["owner"],
                                campaign_id=c["campaign"], kind="conversations")  # fmt: skip
    assert other["export_id"] != running
    await pool.execute("UPDATE campaign_export SET heartbeat_at = now() - interval '2 minutes' "
                       "WHERE id = $1", running)  # fmt: skip
    again = await assigner.call(api.CAMPAIGN_EXPORT, as_user=c["owner"],
                                campaign_id=c["campaign"], kind="messages")  # fmt: skip
    assert again["export_id"] > running


async def test_an_export_past_baton_export_max_bytes_fails_and_keeps_nothing(
    settings: CommonSettings, nc: NatsClient, pool: asyncpg.Pool
) -> None:
    """The bucket's byte cap is the setting's, also for a bucket made before without one."""
    js = nc.jetstream()
    await js.create_object_store(api.EXPORTS_BUCKET, ObjectStoreConfig(ttl=3600.0))
    own = load_settings(AssignerSettings, {
        "BATON_DATABASE_URL": settings.database_url, "BATON_NATS_URL": settings.nats_url,
        "BATON_DB_POOL_MIN": "1", "BATON_EXPORT_MAX_BYTES": str(2**20)})  # fmt: skip
    assert own.export_max_bytes == 2**20
    async with running(ASSIGNER, own):
        baton = Baton(nc)
        c = await campaign_with_texters(baton, texters=1, contacts=1_000)
        # 2,000 messages of 1,000 characters: about 2 MiB of CSV.
        await pool.execute(
            """INSERT INTO message (conversation_id, direction, kind, body, delivery_status)
               SELECT cv.id, 'inbound', 'contact', repeat('x', 1000), 'received'
               FROM conversation cv CROSS JOIN generate_series(1, 2)
               WHERE cv.campaign_id = $1""", c["campaign"])  # fmt: skip
        started = await baton.call(api.CAMPAIGN_EXPORT, as_user=c["owner"],
                                   campaign_id=c["campaign"], kind="messages")  # fmt: skip

        async def finished() -> dict[str, Any] | None:
            state: dict[str, Any] = await baton.call(
                api.CAMPAIGN_EXPORT_READ, as_user=c["owner"], export_id=started["export_id"]
            )
            return None if state["state"] == "running" else state

        state = await eventually(finished)
    assert state["state"] == "failed" and state["error"]
    info = await js.stream_info(f"OBJ_{api.EXPORTS_BUCKET}")
    assert (info.config.max_bytes, info.config.max_age) == (2**20, 72 * 3600)
    assert info.state.bytes < 2**20
    assert [o async for o in _objects(await js.object_store(api.EXPORTS_BUCKET))] == []


async def _objects(store: ObjectStore) -> AsyncIterator[str]:
    try:
        for info in await store.list():
            yield info.name
    except NotFoundError:  # an empty bucket lists nothing this way
        return
