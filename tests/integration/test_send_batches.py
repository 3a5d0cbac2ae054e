"""The sender's group commit (services/sender/group_commit.py) on real NATS and Postgres: sends
that arrive together share a transaction, and each is still answered as if it were alone."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client import REGISTRY

from shared.contract import catalogue as api
from shared.contract.errors import BatonError
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.services import service_process
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration


def _batches() -> tuple[float, float]:
    """(batches committed, sends in them) so far, from the sender's histogram."""
    count = REGISTRY.get_sample_value("baton_send_batch_size_count") or 0.0
    total = REGISTRY.get_sample_value("baton_send_batch_size_sum") or 0.0
    return count, total


async def _held(assigner: Baton, texters: int, contacts: int, number: str) -> dict[str, Any]:
    c = await campaign_with_texters(assigner, texters=texters, contacts=contacts,
                                    batch_size=contacts // texters, sending_number=number)  # fmt: skip
    c["held"] = {}
    for texter in c["texters"]:
        batch = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
        c["held"][texter] = batch["conversation_ids"]
    return c


async def _outcome(sender: Baton, texter: int, conversation: int, key: str) -> Any:
    try:
        return await sender.call(api.SEND_INITIAL, as_user=texter, conversation_id=conversation,
                                 body="Hi", idempotency_key=key)  # fmt: skip
    except BatonError as refusal:
        return refusal.code


async def test_one_bad_send_in_a_batch_fails_alone_and_a_batch_mixes_two_campaigns(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    a = await _held(assigner, texters=2, contacts=40, number="+14155550171")
    b = await _held(assigner, texters=2, contacts=40, number="+14155550172")
    a1, a2 = a["texters"]
    opted_out = a["held"][a1][0]
    await pool.execute("INSERT INTO opt_out (org_id, phone) SELECT $1, k.phone FROM conversation v "
                       "JOIN contact k ON k.id = v.contact_id WHERE v.id = $2", a["org"], opted_out)  # fmt: skip
    sends: list[tuple[int, int, str]] = []
    for c in (a, b):
        for texter, held in c["held"].items():
            sends += [(texter, conversation, str(uuid.uuid4())) for conversation in held]
    twice = sends[5]  # the same key twice at once: one text, two answers
    someone_elses = (a2, a["held"][a1][1], str(uuid.uuid4()))  # a2 does not hold it
    second_initial = (a1, a["held"][a1][2], str(uuid.uuid4()))  # another key, same conversation
    all_sends = [*sends, twice, someone_elses, second_initial]
    before = _batches()
    outcomes = await asyncio.gather(*(_outcome(sender, *send) for send in all_sends))
    after = _batches()

    by_send = dict(zip(range(len(all_sends)), outcomes, strict=True))
    assert by_send[len(sends) + 1] == "assignment_changed"
    # Two initials for one conversation under two keys: one goes, the other is already sent.
    original = next(i for i, s in enumerate(sends) if s[1] == second_initial[1])
    pair = [by_send[original], by_send[len(sends) + 2]]
    assert sum(isinstance(o, dict) for o in pair) == 1 and "already_sent" in pair, pair
    assert by_send[sends.index(next(s for s in sends if s[1] == opted_out))] == "opted_out"
    good = [o for o in [*outcomes[: len(sends)], by_send[len(sends) + 2]] if isinstance(o, dict)]
    assert len(good) == len(sends) - 1  # every conversation but the opted-out one has its text
    assert outcomes[len(sends)]["message_id"] == outcomes[5]["message_id"]
    assert {outcomes[5]["duplicate"], outcomes[len(sends)]["duplicate"]} == {False, True}
    texts = await pool.fetch(
        "SELECT conversation_id, count(*) AS n FROM message WHERE direction = 'outbound' AND "
        "conversation_id = ANY($1::bigint[]) GROUP BY 1", [s[1] for s in sends])  # fmt: skip
    assert len(texts) == len(sends) - 1 and all(r["n"] == 1 for r in texts)
    # Fewer commits than sends: they were batched, across both campaigns' conversations.
    commits, committed = after[0] - before[0], after[1] - before[1]
    assert committed == len(sends) + 3 and commits < committed, (commits, committed)
    campaigns = await pool.fetchval(
        "SELECT count(DISTINCT v.campaign_id) FROM message m JOIN conversation v "
        "ON v.id = m.conversation_id WHERE m.id = ANY($1::bigint[])",
        [o["message_id"] for o in good])  # fmt: skip
    assert campaigns == 2


async def test_a_crash_between_a_batchs_commit_and_its_answers_loses_and_doubles_nothing(
    assigner: Baton, pool: asyncpg.Pool, nc: NatsClient, database_url: str, nats_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The sender dies right after a batch commits, before any of its sends is answered. Every
    caller retries with the same key: what committed answers as a retry, the rest go now, and
    each conversation has one text."""
    c = await _held(assigner, texters=1, contacts=40, number="+14155550173")
    texter = c["texters"][0]
    sends = [(conversation, str(uuid.uuid4())) for conversation in c["held"][texter]]
    fired = tmp_path / "fired"
    fired.mkdir()
    log = tmp_path / "sender.log"
    client = Baton(nc, timeout=3)

    async def attempt(conversation: int, key: str) -> Any:
        try:
            return await _outcome(client, texter, conversation, key)
        except Exception as exc:  # no answer: the process died under it
            return type(exc).__name__

    async with service_process("sender", database_url, nats_url, log,
                               crash_points="sender:after_batch_commit",
                               crash_once_dir=str(fired)) as crashing:  # fmt: skip
        await eventually(lambda: _answers(nc, "sender"), within=30)
        first = await asyncio.gather(*(attempt(*send) for send in sends))
        await asyncio.wait_for(crashing.wait(), timeout=10)
    assert crashing.returncode != 0 and list(fired.iterdir()), log.read_text()[-2000:]
    committed = await pool.fetchval(
        "SELECT count(*) FROM message WHERE direction = 'outbound' AND texter_id = $1", texter
    )
    assert committed >= 1  # the batch that reached the crash point had committed
    assert not any(isinstance(o, dict) and not o["duplicate"] for o in first)  # none answered
    async with service_process("sender", database_url, nats_url, log):
        await eventually(lambda: _answers(nc, "sender"), within=30)
        retried = await asyncio.gather(*(_outcome(Baton(nc), texter, *send) for send in sends))
        assert all(isinstance(o, dict) for o in retried), retried
        duplicates = sum(o["duplicate"] for o in retried)
        assert duplicates >= committed  # what committed before the crash answers as a retry
        texts = await pool.fetch(
            "SELECT conversation_id, count(*) AS n FROM message WHERE direction = 'outbound' "
            "AND texter_id = $1 GROUP BY 1", texter)  # fmt: skip
        assert len(texts) == len(sends) and all(r["n"] == 1 for r in texts)
        assert await eventually(lambda: pool.fetchval(
            "SELECT count(*) = $1 FROM outbox WHERE subject = $2 AND published_at IS NOT NULL "
            "AND msg_id = ANY($3::text[])", len(sends), api.OUTBOUND_SMS.subject,
            [str(o["message_id"]) for o in retried]), within=30)  # fmt: skip


async def _answers(nc: NatsClient, service: str) -> bool:
    try:
        await nc.request(api.STATUS[service].subject, b"{}", timeout=0.5)  # type: ignore[index]
    except Exception:
        return False
    return True


async def test_a_key_committed_while_its_retry_waits_on_the_conversation_is_answered_as_a_retry(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    """Two batches with the same key: the retry's batch looks for earlier sends before the first
    commits, then waits on the conversation's lock. When it gets the lock the conversation is
    already sent; the retry must get the first send's answer, not `already_sent` (found by a
    suite run under two workers). The first batch is played here in SQL, held open until the
    retry is seen waiting."""
    c = await _held(assigner, texters=1, contacts=5, number="+14155550173")
    (texter,) = c["texters"]
    conversation = c["held"][texter][0]
    key = str(uuid.uuid4())
    first = await pool.acquire()
    try:
        transaction = first.transaction()
        await transaction.start()
        await first.execute("SELECT 1 FROM conversation WHERE id = $1 FOR UPDATE", conversation)
        message_id = await first.fetchval(
            "INSERT INTO message (conversation_id, direction, kind, texter_id, body,"
            " idempotency_key, delivery_status, our_number)"
            " VALUES ($1, 'outbound', 'initial', $2, 'Hi', $3, 'queued', '+14155550173')"
            " RETURNING id",
            conversation, texter, key,
        )  # fmt: skip
        await first.execute(
            "UPDATE conversation SET status = 'awaiting_reply' WHERE id = $1", conversation
        )
        retry = asyncio.create_task(_outcome(sender, texter, conversation, key))
        await eventually(lambda: _waiting_on_a_lock(pool), within=10)
        await transaction.commit()
    finally:
        await pool.release(first)
    answer = await retry
    assert isinstance(answer, dict), answer
    assert answer["message_id"] == message_id and answer["duplicate"] is True


async def _waiting_on_a_lock(pool: asyncpg.Pool) -> bool:
    waiting: int = await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return waiting > 0
