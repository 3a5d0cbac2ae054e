"""Batches only of conversations a texter can send now (issue #19), on real Postgres and NATS with
an injected clock: contacts across zones, a daylight-saving day, a number spanning zones, the
margin before closing, the refusal with the next opening, held initials returned when hours
close and handed out again when they open, and the campaign stats per zone."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.service import endpoints as assigner_endpoints
from services.assigner.settings import AssignerSettings
from services.reaper.releasing import Releaser
from services.sender.service import DEFINITION as SENDER
from services.sender.service import endpoints as sender_endpoints
from services.sender.settings import SenderSettings
from shared.contract import catalogue as api
from shared.runtime.migrations import latest_version, migrate
from shared.runtime.outbox import OutboxPublisher
from shared.runtime.phone_zones import load_phone_zones
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.databases import migrate_below, with_database
from tests.support.servers import ServerSet
from tests.support.services import running

pytestmark = pytest.mark.integration

# 10:00 in Washington, 05:00 in Honolulu.
EAST_COAST_MORNING = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
HONOLULU_OPENS = datetime(2026, 11, 30, 19, 0, tzinfo=UTC)
SENDING_NUMBER = "+14155550000"


class Clock:
    """What "now" is for the services under test; a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(EAST_COAST_MORNING)


@pytest.fixture
async def assigner(settings: CommonSettings, nc: NatsClient, clock: Clock) -> AsyncIterator[Baton]:
    """The assigner service on the test's clock."""
    definition = replace(ASSIGNER, endpoints=lambda context: assigner_endpoints(context, clock))
    own = AssignerSettings(database_url=settings.database_url, nats_url=settings.nats_url,
                           db_pool_min=1)  # fmt: skip
    async with running(definition, own):
        yield Baton(nc)


@pytest.fixture
async def sender(settings: CommonSettings, nc: NatsClient, clock: Clock) -> AsyncIterator[Baton]:
    definition = replace(SENDER, endpoints=lambda context: sender_endpoints(context, clock))
    own = SenderSettings(database_url=settings.database_url, nats_url=settings.nats_url,
                         db_pool_min=1, outbox_poll_seconds=0.2)  # fmt: skip
    async with running(definition, own):
        yield Baton(nc)


def _reaper(pool: asyncpg.Pool, nc: NatsClient, clock: Clock) -> Releaser:
    return Releaser(pool, OutboxPublisher("test", pool, nc.jetstream()), clock=clock)


async def _campaign(
    baton: Baton, contacts: list[dict[str, str]], *, texters: int = 2, batch_size: int = 20,
    **settings: Any,
) -> dict[str, Any]:  # fmt: skip
    """A campaign texting 9:00-21:00 in each contact's time, with `contacts`; their conversation
    ids in the order given, as c["ids"]."""
    c = await campaign_with_texters(baton, texters=texters, contacts=0, batch_size=batch_size,
                                    sending_number=SENDING_NUMBER)  # fmt: skip
    await baton.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                     texting_hours={"start": 9, "end": 21}, **settings)  # fmt: skip
    result = await baton.call(api.CONTACTS_IMPORT, as_user=c["owner"],
                              campaign_id=c["campaign"], contacts=contacts)  # fmt: skip
    assert result["imported"] == len(contacts), result
    return c


async def _ids(pool: asyncpg.Pool, campaign: int, prefix: str) -> list[int]:
    rows = await pool.fetch(
        """SELECT v.id FROM conversation v JOIN contact k ON k.id = v.contact_id
           WHERE v.campaign_id = $1 AND k.phone LIKE $2 || '%' ORDER BY v.id""",
        campaign, prefix,
    )  # fmt: skip
    return [r["id"] for r in rows]


def _phones(prefix: str, count: int) -> list[dict[str, str]]:
    return [{"phone": f"{prefix}555{n:04d}"} for n in range(100, 100 + count)]


async def _request(baton: Baton, c: dict[str, Any], texter: int = 0, **kw: Any) -> Any:
    return await baton.call(api.ASSIGN_REQUEST, campaign_id=c["campaign"],
                            as_user=c["texters"][texter], **kw)  # fmt: skip


async def _refusal(baton: Baton, c: dict[str, Any], texter: int = 0, **kw: Any) -> Any:
    return await baton.error(api.ASSIGN_REQUEST, campaign_id=c["campaign"],
                             as_user=c["texters"][texter], **kw)  # fmt: skip


async def test_an_east_coast_morning_hands_out_washington_and_says_when_honolulu_opens(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool, clock: Clock
) -> None:
    """The issue's campaign: 5 contacts in Washington, 6 in Honolulu, at 10:00 Eastern."""
    c = await _campaign(assigner, _phones("+1202", 5) + _phones("+1808", 6))
    dc, honolulu = (
        await _ids(pool, c["campaign"], "+1202"),
        await _ids(pool, c["campaign"], "+1808"),
    )
    batch = await _request(assigner, c)
    assert batch["conversation_ids"] == dc  # only what can be sent now
    for conversation in batch["conversation_ids"]:
        sent = await sender.call(api.SEND_INITIAL, as_user=c["texters"][0],
                                 conversation_id=conversation, body="Hi",
                                 idempotency_key=f"k{conversation}")  # fmt: skip
        assert sent["status"] == "queued"
    # The pool still holds Honolulu, none of it textable: not "empty", but when it opens.
    refusal = await _refusal(assigner, c)
    assert refusal.code == "none_textable_now"
    assert refusal.details == {"opens_at": "2026-11-30T19:00:00Z", "zone": "Pacific/Honolulu",
                               "local_time": "09:00"}  # fmt: skip
    assert "09:00 Pacific/Honolulu" in refusal.message
    # The sender agrees: a Honolulu conversation (handed out by hand) cannot be texted now.
    await pool.execute("UPDATE conversation SET assignee_id = $2 WHERE id = $1", honolulu[0],
                       c["texters"][1])  # fmt: skip
    outside = await sender.error(api.SEND_INITIAL, as_user=c["texters"][1],
                                 conversation_id=honolulu[0], body="Hi", idempotency_key="h")  # fmt: skip
    assert outside.code == "outside_texting_hours"
    await pool.execute("UPDATE conversation SET assignee_id = NULL WHERE id = $1", honolulu[0])
    # At 09:00 in Honolulu they are handed out.
    clock.now = HONOLULU_OPENS
    assert (await _request(assigner, c))["conversation_ids"] == honolulu
    await pool.execute("UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)",
                       honolulu)  # fmt: skip
    assert (await _refusal(assigner, c)).code == "no_more_conversations"


async def test_the_margin_before_closing(assigner: Baton, pool: asyncpg.Pool, clock: Clock) -> None:
    c = await _campaign(assigner, _phones("+1202", 3), batch_size=1)
    # 20:35 in Washington: inside the hours, but within the default 30 minutes of closing.
    clock.now = datetime(2026, 12, 1, 1, 35, tzinfo=UTC)
    refusal = await _refusal(assigner, c)
    assert refusal.code == "none_textable_now"
    assert refusal.details["opens_at"] == "2026-12-01T14:00:00Z"  # 09:00 the next day
    # A campaign with a shorter margin still hands out; one with a longer one stops earlier.
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                        campaign_id=c["campaign"], closing_margin_minutes=20)  # fmt: skip
    assert (await _request(assigner, c))["count"] == 1
    updated = await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                                  campaign_id=c["campaign"], closing_margin_minutes=120)  # fmt: skip
    assert updated["closing_margin_minutes"] == 120
    clock.now = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)  # 18:59
    assert (await _request(assigner, c, texter=1))["count"] == 1
    clock.now = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 19:00: two hours before closing
    await pool.execute("UPDATE conversation SET status = 'awaiting_reply' WHERE campaign_id = $1"
                       " AND assignee_id IS NOT NULL", c["campaign"])  # fmt: skip
    assert (await _refusal(assigner, c)).code == "none_textable_now"
    # A margin as long as the hours would never hand anything out.
    too_long = await assigner.error(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                                    campaign_id=c["campaign"], closing_margin_minutes=720)  # fmt: skip
    assert too_long.code == "bad_request"


async def test_the_day_daylight_saving_starts(
    assigner: Baton, pool: asyncpg.Pool, clock: Clock
) -> None:
    """15:30 UTC is 08:30 in Denver the day before the change and 09:30 on the day; Phoenix
    keeps 08:30 MST both days. Only Denver opens, and only on the day."""
    c = await _campaign(assigner, _phones("+1303", 2) + _phones("+1602", 2))
    denver = await _ids(pool, c["campaign"], "+1303")
    clock.now = datetime(2026, 3, 7, 15, 30, tzinfo=UTC)
    refusal = await _refusal(assigner, c)
    assert refusal.code == "none_textable_now"
    # Next: 09:00 MST in Denver, at 16:00 UTC (Phoenix opens at the same instant).
    assert refusal.details["opens_at"] == "2026-03-07T16:00:00Z"
    clock.now = datetime(2026, 3, 8, 15, 30, tzinfo=UTC)
    assert (await _request(assigner, c))["conversation_ids"] == denver
    await pool.execute("UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)",
                       denver)  # fmt: skip
    refusal = await _refusal(assigner, c)
    assert refusal.details == {"opens_at": "2026-03-08T16:00:00Z", "zone": "America/Phoenix",
                               "local_time": "09:00"}  # fmt: skip


async def test_a_number_spanning_zones_and_an_imported_zone(
    assigner: Baton, pool: asyncpg.Pool, clock: Clock
) -> None:
    """+1208 (Idaho) is Boise's or Los Angeles' time: texted only while both are open, unless the
    campaign names a fallback zone. A zone imported with the contact wins over the number's."""
    c = await _campaign(assigner, [
        {"phone": "+12085550100"},
        {"phone": "+12025550100", "timezone": "Pacific/Honolulu"},
    ])  # fmt: skip
    idaho, moved = (
        await _ids(pool, c["campaign"], "+1208"),
        await _ids(pool, c["campaign"], "+1202"),
    )
    zones = await pool.fetch(
        """SELECT g.zones FROM conversation v JOIN zone_group g ON g.id = v.zone_group
           WHERE v.campaign_id = $1 ORDER BY v.id""", c["campaign"],
    )  # fmt: skip
    assert [list(r["zones"]) for r in zones] == [
        ["America/Boise", "America/Los_Angeles"], ["Pacific/Honolulu"]
    ]  # fmt: skip
    clock.now = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 09:30 Boise, 08:30 Los Angeles
    refusal = await _refusal(assigner, c)
    assert refusal.details["zone"] == "America/Los_Angeles"
    assert refusal.details["opens_at"] == "2026-11-30T17:00:00Z"
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                        campaign_id=c["campaign"], fallback_zone="America/Boise")  # fmt: skip
    assert (await _request(assigner, c))["conversation_ids"] == idaho
    # 10:00 in Washington is 05:00 for the contact imported as in Honolulu.
    clock.now = EAST_COAST_MORNING
    assert (await _refusal(assigner, c, texter=1)).details["zone"] == "Pacific/Honolulu"
    clock.now = HONOLULU_OPENS
    assert (await _request(assigner, c, texter=1))["conversation_ids"] == moved
    bad = await assigner.error(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                               campaign_id=c["campaign"], fallback_zone="Mars/Olympus")  # fmt: skip
    assert bad.code == "bad_request"


async def test_held_initials_go_back_when_hours_close_and_out_again_when_they_open(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient, clock: Clock
) -> None:
    c = await _campaign(assigner, _phones("+1202", 3) + _phones("+1808", 3))
    dc, honolulu = (
        await _ids(pool, c["campaign"], "+1202"),
        await _ids(pool, c["campaign"], "+1808"),
    )
    # 20:00 in Honolulu: a texter takes its three; it is 01:00 in Washington.
    clock.now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    texter = c["texters"][0]
    assert (await _request(assigner, c))["conversation_ids"] == honolulu
    reaper = _reaper(pool, nc, clock)
    assert await reaper.pass_once() == 0  # still sendable: held
    # Every conversation event (the released subject may carry a message-id token or not).
    events = await nc.jetstream().subscribe(f"{api.EVENTS_ROOT}.conversation.>", stream="EVENTS")
    # 21:00 in Honolulu: the reaper returns them, so they block nothing.
    clock.now = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert await reaper.pass_once() == 3
    assert await pool.fetchval(
        "SELECT count(*) FROM conversation WHERE assignee_id IS NOT NULL AND campaign_id = $1",
        c["campaign"],
    ) == 0  # fmt: skip
    logged = await pool.fetch(
        """SELECT conversation_id, from_texter_id, reason FROM assignment_move
           WHERE reason = 'texting_hours_closed' ORDER BY conversation_id"""
    )
    assert [(r["conversation_id"], r["from_texter_id"]) for r in logged] == [
        (i, texter) for i in honolulu
    ]
    message = await events.next_msg(timeout=10)
    while not message.subject.startswith(api.CONVERSATIONS_RELEASED.subject):
        message = await events.next_msg(timeout=10)
    event = json.loads(message.data)
    assert (event["reason"], event["from_texter_id"], event["conversation_ids"]) == (
        "texting_hours_closed", texter, honolulu
    )  # fmt: skip
    assert await reaper.pass_once() == 0
    # Not stuck: nothing held, so no `initials_pending`; nothing open anywhere until Washington.
    refusal = await _refusal(assigner, c)
    assert refusal.code == "none_textable_now"
    assert refusal.details["zone"] == "America/New_York"
    # Washington opens first; Honolulu's come out again when Honolulu does.
    clock.now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    assert (await _request(assigner, c))["conversation_ids"] == dc
    clock.now = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
    assert (await _request(assigner, c, texter=1))["conversation_ids"] == honolulu
    # Campaigns without self assignment keep what an admin assigned.
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                        campaign_id=c["campaign"], self_assign=False)  # fmt: skip
    clock.now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert await reaper.pass_once() == 0


async def test_replies_and_joins_hold_only_what_is_open(
    assigner: Baton, pool: asyncpg.Pool, clock: Clock
) -> None:
    c = await _campaign(assigner, _phones("+1202", 2) + _phones("+1808", 2), texters=1)
    dc, honolulu = (
        await _ids(pool, c["campaign"], "+1202"),
        await _ids(pool, c["campaign"], "+1808"),
    )
    # Unassigned replies from both; the Honolulu ones waited longest, but it is night there.
    for minutes, conversation in zip((50, 40, 30, 20), honolulu + dc, strict=True):
        await pool.execute(
            """UPDATE conversation SET status = 'needs_reply',
                   needs_reply_since = $2::timestamptz - make_interval(mins => $3)
               WHERE id = $1""",
            conversation, EAST_COAST_MORNING, minutes,
        )  # fmt: skip
    batch = await _request(assigner, c, kind="replies")
    assert batch["conversation_ids"] == dc
    await pool.execute("UPDATE conversation SET status = 'replied', needs_reply_since = NULL"
                       " WHERE id = ANY($1)", dc)  # fmt: skip
    refusal = await _refusal(assigner, c, kind="replies")
    assert (refusal.code, refusal.details["zone"]) == ("none_textable_now", "Pacific/Honolulu")
    # A texter joining by invite now gets no first batch, and hears when there will be one.
    newcomer = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                    name="Nia", role="texter"))["user_id"]  # fmt: skip
    token = (await assigner.call(api.CAMPAIGN_INVITE, as_user=c["owner"],
                                 campaign_id=c["campaign"], kind="replies"))["token"]  # fmt: skip
    joined = await assigner.call(api.ASSIGN_JOIN, token=token, as_user=newcomer)
    assert joined["conversation_ids"] == []
    assert joined["first_batch_error"] == "none_textable_now"
    assert joined["next_opening"] == {"opens_at": "2026-11-30T19:00:00Z",
                                      "zone": "Pacific/Honolulu", "local_time": "09:00"}  # fmt: skip
    clock.now = HONOLULU_OPENS + timedelta(minutes=1)
    again = await assigner.call(api.ASSIGN_JOIN, token=token, as_user=newcomer)
    assert again["conversation_ids"] == honolulu  # oldest first
    assert again["next_opening"] is None


async def test_campaign_stats_count_what_is_textable_now_per_zone(
    assigner: Baton, pool: asyncpg.Pool, clock: Clock
) -> None:
    c = await _campaign(assigner, _phones("+1202", 5) + _phones("+1808", 6))
    stats = await assigner.call(api.CAMPAIGN_STATS, as_user=c["owner"],
                                campaign_id=c["campaign"])  # fmt: skip
    assert stats["unassigned_textable_now"] == 5
    by_zone = {tuple(z["zones"]): z for z in stats["unassigned_by_zone"]}
    assert by_zone[("America/New_York",)] == {
        "zones": ["America/New_York"], "hours_of": ["America/New_York"], "unassigned": 5,
        "textable_now": 5, "next_opening": None,
    }  # fmt: skip
    assert by_zone[("Pacific/Honolulu",)]["unassigned"] == 6
    assert by_zone[("Pacific/Honolulu",)]["textable_now"] == 0
    assert by_zone[("Pacific/Honolulu",)]["next_opening"]["opens_at"] == "2026-11-30T19:00:00Z"
    clock.now = HONOLULU_OPENS
    stats = await assigner.call(api.CAMPAIGN_STATS, as_user=c["owner"],
                                campaign_id=c["campaign"])  # fmt: skip
    assert stats["unassigned_textable_now"] == 11


async def test_a_database_from_before_zone_groups_migrates_into_them(servers: ServerSet) -> None:
    """Conversations imported before migration 0006 get their zone group: the imported zone,
    else the number's once the phone prefixes are loaded; each campaign's groups and floors."""
    name = "baton_texting_hours_upgrade"
    admin = await asyncpg.connect(servers.postgres_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(servers.postgres_url, name))
    try:
        await migrate_below(conn, 6)
        org = await conn.fetchval("INSERT INTO organization (name) VALUES ('o') RETURNING id")
        campaign = await conn.fetchval(
            "INSERT INTO campaign (org_id, title, batch_size) VALUES ($1, 'c', 300) RETURNING id",
            org,
        )
        await conn.execute(
            """INSERT INTO contact (campaign_id, phone, timezone)
               VALUES ($1, '+18085550100', NULL), ($1, '+12025550100', 'America/Chicago')""",
            campaign,
        )
        await conn.execute(
            "INSERT INTO conversation (campaign_id, contact_id) SELECT campaign_id, id FROM contact"
        )
        applied = [m.version for m in await migrate(conn)]
        assert applied[0] == 6 and applied == list(range(6, latest_version() + 1))
        rows = await conn.fetch(
            """SELECT v.id, g.zones FROM conversation v JOIN zone_group g ON g.id = v.zone_group
               ORDER BY v.id"""
        )
        assert [list(r["zones"]) for r in rows] == [["Pacific/Honolulu"], ["America/Chicago"]]
        floors = await conn.fetch(
            """SELECT g.zones, z.pool_floor_id FROM campaign_zone_group z
               JOIN zone_group g ON g.id = z.zone_group"""
        )
        # (The unknown group the Honolulu row passed through keeps a floor below everything, as
        # a floor may; the keeper raises it.)
        by_zone = {tuple(f["zones"]): f["pool_floor_id"] for f in floors}
        assert by_zone[("Pacific/Honolulu",)] == rows[0]["id"]
        assert by_zone[("America/Chicago",)] == rows[1]["id"]
        # Loaded once: a second migrate finds the prefixes equal to the library's.
        assert not await load_phone_zones(conn)
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
