"""Release Unhandled Replies with an injected clock, several reapers, and the admin releases."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from services.reaper import releasing
from services.reaper.releasing import Releaser
from services.reaper.service import DEFINITION as REAPER
from services.reaper.settings import ReaperSettings
from shared.contract import catalogue as api
from shared.runtime.outbox import OutboxPublisher
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.services import running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 3, 18, 0, tzinfo=UTC)


async def _replies_waiting(
    assigner: Baton, pool: asyncpg.Pool, minutes: int = 10, count: int = 3
) -> dict[str, Any]:
    """A campaign releasing after `minutes`, whose first texter holds `count` replies since T0."""
    c = await campaign_with_texters(assigner, texters=2, contacts=count, batch_size=count)
    await assigner.call(
        api.CAMPAIGN_UPDATE,
        as_user=c["owner"],
        campaign_id=c["campaign"],
        release_unhandled_after_minutes=minutes,
    )
    batch = await assigner.call(
        api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=c["texters"][0]
    )
    # Handed out a minute before the contacts replied, as initials are.
    await pool.execute(
        "UPDATE conversation SET status = 'needs_reply', needs_reply_since = $2::timestamptz, "
        "assigned_at = $2::timestamptz - interval '1 minute' WHERE id = ANY($1)",
        batch["conversation_ids"],
        T0,
    )
    c["conversations"] = batch["conversation_ids"]
    return c


def _releaser(pool: asyncpg.Pool, nc: NatsClient, at: datetime) -> Releaser:
    return Releaser(pool, OutboxPublisher("test", pool, nc.jetstream()), clock=lambda: at)


async def _unassigned(pool: asyncpg.Pool, ids: list[int]) -> list[int]:
    rows = await pool.fetch(
        "SELECT id FROM conversation WHERE id = ANY($1) AND assignee_id IS NULL ORDER BY id", ids
    )
    return [r["id"] for r in rows]


async def test_released_exactly_at_the_timeout_and_not_a_second_before(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _replies_waiting(assigner, pool, minutes=10)
    # An edit bumps updated_at; the clock runs from needs_reply_since regardless.
    await pool.execute(
        "UPDATE conversation SET updated_at = $2 WHERE id = ANY($1)",
        c["conversations"],
        T0 + timedelta(minutes=9),
    )
    assert await _releaser(pool, nc, T0 + timedelta(minutes=10, seconds=-1)).pass_once() == 0
    assert await _unassigned(pool, c["conversations"]) == []
    assert await _releaser(pool, nc, T0 + timedelta(minutes=10)).pass_once() == 3
    assert await _unassigned(pool, c["conversations"]) == sorted(c["conversations"])
    events = await pool.fetch(
        "SELECT from_texter_id, to_texter_id, reason FROM assignment_move "
        "WHERE reason = 'unhandled_timeout'"
    )
    assert {(e["from_texter_id"], e["to_texter_id"]) for e in events} == {(c["texters"][0], None)}
    assert len(events) == 3
    # Released replies are what texters requesting replies claim.
    batch = await assigner.call(
        api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=c["texters"][1], kind="replies"
    )
    assert sorted(batch["conversation_ids"]) == sorted(c["conversations"])


async def test_an_answer_at_the_last_moment_keeps_the_conversation(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _replies_waiting(assigner, pool, minutes=10)
    answered = c["conversations"][0]
    # The texter's reply stops the clock (what baton.send.reply does to the row).
    await pool.execute(
        "UPDATE conversation SET status = 'replied', needs_reply_since = NULL WHERE id = $1",
        answered,
    )
    assert await _releaser(pool, nc, T0 + timedelta(minutes=10)).pass_once() == 2
    assert answered not in await _unassigned(pool, c["conversations"])
    # A new message from the contact starts the clock again, from its own time.
    await pool.execute(
        "UPDATE conversation SET status = 'needs_reply', needs_reply_since = $2 WHERE id = $1",
        answered,
        T0 + timedelta(minutes=12),
    )
    assert await _releaser(pool, nc, T0 + timedelta(minutes=21)).pass_once() == 0
    assert await _releaser(pool, nc, T0 + timedelta(minutes=22)).pass_once() == 1


async def test_a_reassigned_reply_gives_its_new_texter_the_whole_timeout(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    """Spoke's Release Unhandled Replies feeds Dynamic Assignment for Replies: a reply handed to
    someone new (claimed from the pool, or reassigned) must not be taken back before that
    texter had the timeout to answer it."""
    c = await _replies_waiting(assigner, pool, minutes=10)
    first, other = c["texters"]
    await assigner.call(
        api.REASSIGN,
        as_user=c["owner"],
        campaign_id=c["campaign"],
        from_texter_id=first,
        status="needs_reply",
        to_texter_ids=[other],
    )
    # Reassigned five minutes after the replies came in (the reaper's clock is injected).
    await pool.execute("UPDATE conversation SET assigned_at = $2 WHERE id = ANY($1)",
                       c["conversations"], T0 + timedelta(minutes=5))  # fmt: skip
    assert await _releaser(pool, nc, T0 + timedelta(minutes=10)).pass_once() == 0
    assert await _releaser(pool, nc, T0 + timedelta(minutes=14)).pass_once() == 0
    assert await _releaser(pool, nc, T0 + timedelta(minutes=15)).pass_once() == 3
    froms = {
        r["from_texter_id"]
        for r in await pool.fetch(
            "SELECT from_texter_id FROM assignment_move WHERE reason = 'unhandled_timeout'"
        )
    }
    assert froms == {other}


async def test_three_reapers_release_each_conversation_once(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _replies_waiting(assigner, pool, minutes=5, count=60)
    gauge_labels = {"campaign_id": str(c["campaign"])}
    # Before the timeout: nothing released, and the oldest reply's age is reported.
    assert await _releaser(pool, nc, T0 + timedelta(minutes=4)).pass_once() == 0
    assert REGISTRY.get_sample_value("baton_oldest_unhandled_reply_seconds", gauge_labels) == 240
    reapers = [_releaser(pool, nc, T0 + timedelta(hours=1)) for _ in range(3)]
    released = 0
    for _ in range(3):
        released += sum(await asyncio.gather(*(r.pass_once() for r in reapers)))
    assert released == 60
    counts = await pool.fetch(
        "SELECT conversation_id, count(*) AS n FROM assignment_move "
        "WHERE reason = 'unhandled_timeout' GROUP BY 1"
    )
    assert len(counts) == 60 and {r["n"] for r in counts} == {1}
    # Nothing waits any more: the campaign drops out of the gauge.
    assert REGISTRY.get_sample_value("baton_oldest_unhandled_reply_seconds", gauge_labels) is None


async def test_campaigns_without_the_setting_are_left_alone(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _replies_waiting(assigner, pool, minutes=10)
    await assigner.call(
        api.CAMPAIGN_UPDATE,
        as_user=c["owner"],
        campaign_id=c["campaign"],
        release_unhandled_after_minutes=None,
    )
    assert await _releaser(pool, nc, T0 + timedelta(days=3)).pass_once() == 0


async def test_admin_releases(
    assigner: Baton, settings: CommonSettings, pool: asyncpg.Pool, nc: NatsClient
) -> None:
    c = await _replies_waiting(assigner, pool, minutes=600, count=4)
    # The service's own loop uses the real clock: these replies have only just arrived.
    await pool.execute(
        "UPDATE conversation SET needs_reply_since = now() WHERE id = ANY($1)", c["conversations"]
    )
    reaper_settings = ReaperSettings(
        database_url=settings.database_url,
        nats_url=settings.nats_url,
        db_pool_min=1,
        reap_interval_seconds=0.2,
        outbox_poll_seconds=0.2,
    )
    released_events = await nc.jetstream().subscribe(
        api.CONVERSATIONS_RELEASED.pattern, stream="EVENTS"
    )
    async with running(REAPER, reaper_settings):
        reaper = Baton(nc)

        async def organizer_gauge(state: str) -> float | None:
            return REGISTRY.get_sample_value(
                "baton_campaign_conversations", {"campaign_id": str(c["campaign"]), "state": state}
            )

        # The organizer's gauges: four replies wait on a texter, none in Unassigned.
        assert await eventually(lambda: organizer_gauge("assigned_needs_reply")) == 4
        assert await organizer_gauge("unassigned_needs_reply") == 0
        assert (
            REGISTRY.get_sample_value(
                "baton_campaign_release_after_seconds", {"campaign_id": str(c["campaign"])}
            )
            == 600 * 60
        )
        refusal = await reaper.error(
            api.RELEASE_UNHANDLED, as_user=c["texters"][1], campaign_id=c["campaign"]
        )
        assert refusal.code == "forbidden"
        result = await reaper.call(
            api.RELEASE_UNHANDLED, as_user=c["owner"], campaign_id=c["campaign"]
        )
        assert result["released"] == 4
        event = json.loads((await released_events.next_msg(timeout=10)).data)
        assert sorted(event["conversation_ids"]) == sorted(c["conversations"])
        assert event["from_texter_id"] == c["texters"][0] and event["reason"] == "release"
        # Not-started conversations held too long by a texter who stopped.
        stale = await assigner.call(
            api.CONTACTS_IMPORT,
            as_user=c["owner"],
            campaign_id=c["campaign"],
            contacts=[{"phone": "+16505550100"}, {"phone": "+16505550101"}],
        )
        assert stale["imported"] == 2
        await pool.execute(
            "UPDATE conversation SET status = 'replied', needs_reply_since = NULL WHERE id = ANY($1)",
            c["conversations"],
        )
        batch = await assigner.call(
            api.ASSIGN_REQUEST, campaign_id=c["campaign"], as_user=c["texters"][1]
        )
        await pool.execute(
            "UPDATE conversation SET assigned_at = now() - interval '5 hours' WHERE id = $1",
            batch["conversation_ids"][0],
        )
        result = await reaper.call(
            api.RELEASE_STALE_INITIALS,
            as_user=c["owner"],
            campaign_id=c["campaign"],
            held_longer_than_hours=4,
        )
        assert result["released"] == 1
        assert await _unassigned(pool, batch["conversation_ids"]) == [batch["conversation_ids"][0]]
        # The timed loop runs in the service too: a reply past a short timeout goes back.
        await assigner.call(
            api.CAMPAIGN_UPDATE,
            as_user=c["owner"],
            campaign_id=c["campaign"],
            release_unhandled_after_minutes=1,
        )
        await pool.execute(
            """UPDATE conversation SET status = 'needs_reply', needs_reply_since = now() - interval '2 minutes',
                      assigned_at = now() - interval '3 minutes'
               WHERE id = $1""",
            batch["conversation_ids"][1],
        )
        await eventually(lambda: _unassigned(pool, [batch["conversation_ids"][1]]))


async def test_a_backlog_is_released_in_short_chunks_within_one_pass(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each chunk is its own transaction (its own operation in the event log); the pass goes on
    until a chunk comes back short, so a backlog is gone in one pass all the same."""
    monkeypatch.setattr(releasing, "RELEASE_CHUNK", 2)
    c = await _replies_waiting(assigner, pool, minutes=10, count=5)
    assert await _releaser(pool, nc, T0 + timedelta(minutes=10)).pass_once() == 5
    assert await _unassigned(pool, c["conversations"]) == sorted(c["conversations"])
    operations = await pool.fetch(
        "SELECT operation_id, count(*) AS n FROM assignment_move WHERE reason = 'unhandled_timeout' "
        "GROUP BY 1 ORDER BY 2 DESC")  # fmt: skip
    assert [r["n"] for r in operations] == [2, 2, 1]
