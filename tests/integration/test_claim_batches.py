"""The assigner's group commit for initials claims (services/assigner/claim_batches.py) on real
NATS and Postgres: claims that arrive together share a transaction and one claim statement, and
each is still answered as if it were alone."""

from __future__ import annotations

import asyncio
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
    """(batches committed, claims in them) so far, from the assigner's histogram."""
    count = REGISTRY.get_sample_value("baton_claim_batch_size_count") or 0.0
    total = REGISTRY.get_sample_value("baton_claim_batch_size_sum") or 0.0
    return count, total


async def _claim(assigner: Baton, texter: int, campaign: int) -> Any:
    try:
        batch = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=campaign)
    except BatonError as refusal:
        return refusal.code
    return batch["conversation_ids"]


async def _holders(pool: asyncpg.Pool, campaign: int) -> dict[int, list[int]]:
    rows = await pool.fetch(
        "SELECT assignee_id, array_agg(id ORDER BY id) AS ids FROM conversation "
        "WHERE campaign_id = $1 AND assignee_id IS NOT NULL GROUP BY 1", campaign)  # fmt: skip
    return {r["assignee_id"]: list(r["ids"]) for r in rows}


async def test_bad_claims_in_a_batch_fail_alone_and_a_batch_never_mixes_campaigns(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    a = await campaign_with_texters(assigner, texters=30, contacts=3000, batch_size=20)
    b = await campaign_with_texters(assigner, texters=30, contacts=3000, batch_size=20)
    holding = a["texters"][0]  # holds a batch already: initials_pending
    await _claim(assigner, holding, a["campaign"])
    double_click = a["texters"][1]  # asks twice at once: one batch
    outsider = b["texters"][0]  # of another organization: campaign a does not exist for them
    claims = (
        [(t, a["campaign"]) for t in a["texters"][1:]] + [(double_click, a["campaign"])]
        + [(t, b["campaign"]) for t in b["texters"][1:]]
        + [(holding, a["campaign"]), (outsider, a["campaign"])]
    )  # fmt: skip
    before = _batches()
    outcomes = await asyncio.gather(*(_claim(assigner, *claim) for claim in claims))
    after = _batches()
    by_claim = list(zip(claims, outcomes, strict=True))

    assert outcomes[-2:] == ["initials_pending", "not_found"]
    clicks = [o for (t, _), o in by_claim if t == double_click]
    assert sum(isinstance(o, list) for o in clicks) == 1 and "initials_pending" in clicks
    batches = [(t, c, o) for (t, c), o in by_claim if isinstance(o, list)]
    assert len(batches) == 29 + 29 and all(len(o) == 20 for _, _, o in batches)
    # Each texter holds exactly the batch they were answered with, of their own campaign only.
    for campaign in (a, b):
        answered = {t: sorted(o) for t, c, o in batches if c == campaign["campaign"]}
        if campaign is a:
            answered[holding] = (await _holders(pool, a["campaign"]))[holding]
        assert await _holders(pool, campaign["campaign"]) == answered
    handed = [i for _, _, o in batches for i in o]
    assert len(handed) == len(set(handed))
    # Fewer commits than claims: they were batched.
    commits, committed = after[0] - before[0], after[1] - before[1]
    assert committed >= len(claims) - 2 and commits < committed, (commits, committed)
    # One ConversationsAssigned event per texter and batch, in the outbox with it.
    events = await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE subject = $1", api.CONVERSATIONS_ASSIGNED.subject
    )
    assert events == len(batches) + 1


async def test_a_short_pool_fills_the_first_claims_and_tells_the_rest_it_is_empty(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=8, contacts=45, batch_size=10)
    outcomes = await asyncio.gather(*(_claim(assigner, t, c["campaign"]) for t in c["texters"]))
    sizes = sorted(len(o) for o in outcomes if isinstance(o, list))
    refusals = [o for o in outcomes if not isinstance(o, list)]
    assert sum(sizes) == 45 and sizes[-4:] == [10, 10, 10, 10], outcomes
    assert set(refusals) <= {"no_more_conversations"}
    assert await pool.fetchval(
        "SELECT count(*) FROM conversation WHERE campaign_id = $1 AND assignee_id IS NULL",
        c["campaign"],
    ) == 0  # fmt: skip


async def test_a_crash_between_a_claim_batchs_commit_and_its_answers_leaves_each_batch_held(
    pool: asyncpg.Pool, nc: NatsClient, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """The assigner dies right after a batch of claims commits, before any is answered. Each
    texter asking again is told to send what they hold, and holds exactly what the event log
    says they were given; no conversation is held twice. (Every assigner here is a process of
    its own: one in this process would answer some of the requests.)"""
    log = tmp_path / "assigner.log"
    async with service_process("assigner", database_url, nats_url, log):
        await eventually(lambda: _answers(nc), within=30)
        c = await campaign_with_texters(Baton(nc), texters=12, contacts=600, batch_size=10)
    fired = tmp_path / "fired"
    fired.mkdir()
    client = Baton(nc, timeout=3)

    async def attempt(texter: int) -> Any:
        try:
            return await _claim(client, texter, c["campaign"])
        except Exception as exc:  # no answer: the process died under it
            return type(exc).__name__

    async with service_process("assigner", database_url, nats_url, log,
                               crash_points="assigner:after_claim_batch_commit",
                               crash_once_dir=str(fired)) as crashing:  # fmt: skip
        await eventually(lambda: _answers(nc), within=30)
        first = await asyncio.gather(*(attempt(t) for t in c["texters"]))
        await asyncio.wait_for(crashing.wait(), timeout=10)
    assert crashing.returncode != 0 and list(fired.iterdir()), log.read_text()[-2000:]
    holders = await _holders(pool, c["campaign"])
    assert holders  # the batch that reached the crash point had committed
    assert not any(isinstance(o, list) for o in first)  # none answered
    async with service_process("assigner", database_url, nats_url, log):
        await eventually(lambda: _answers(nc), within=30)
        again = await asyncio.gather(*(_claim(Baton(nc), t, c["campaign"]) for t in c["texters"]))
    for texter, outcome in zip(c["texters"], again, strict=True):
        if texter in holders:
            assert outcome == "initials_pending"
        else:
            assert isinstance(outcome, list) and len(outcome) == 10
    final = await _holders(pool, c["campaign"])
    held = [i for ids in final.values() for i in ids]
    assert len(held) == len(set(held)) == 10 * len(c["texters"])
    logged = await pool.fetch(
        "SELECT to_texter_id, array_agg(conversation_id ORDER BY conversation_id) AS ids "
        "FROM assignment_move WHERE campaign_id = $1 GROUP BY 1", c["campaign"])  # fmt: skip
    assert {r["to_texter_id"]: list(r["ids"]) for r in logged} == final


async def _answers(nc: NatsClient) -> bool:
    try:
        await nc.request(api.STATUS["assigner"].subject, b"{}", timeout=0.5)  # type: ignore[index]
    except Exception:
        return False
    return True
