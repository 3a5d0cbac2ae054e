"""Random interleavings of requests, joins, sends, replies and setting changes (hypothesis).

Each example builds a fresh campaign, runs groups of operations concurrently, and then checks
what must hold whatever the order: nothing handed out twice, the database agrees with every
reply and with the event log, only texters of the campaign got conversations, and no texter ever
held more unsent initials than one batch.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contract import catalogue as api
from shared.contract.errors import BatonError
from tests.support.baton_client import Baton, campaign_with_texters

pytestmark = pytest.mark.integration

TEXTERS = 4  # the first two are added by the admin, the others only ever join by link
CONTACTS = 40
EXPECTED_REFUSALS = {
    "initials_pending", "replies_pending", "no_more_conversations", "self_assign_disabled",
    "not_a_member", "busy",
}  # fmt: skip

operation = st.one_of(
    st.tuples(
        st.just("request"), st.integers(0, TEXTERS - 1), st.sampled_from(["initials", "replies"])
    ),
    st.tuples(
        st.just("join"), st.integers(0, TEXTERS - 1), st.sampled_from(["initials", "replies"])
    ),
    st.tuples(st.just("send_all"), st.integers(0, TEXTERS - 1), st.just("")),
    st.tuples(st.just("reply"), st.integers(0, CONTACTS - 1), st.just("")),
    st.tuples(st.just("batch_size"), st.integers(1, 12), st.just("")),
    st.tuples(st.just("self_assign"), st.booleans(), st.just("")),
    st.tuples(st.just("require_replies"), st.booleans(), st.just("")),
)
# Operations within a group run at once; groups run one after another.
schedules = st.lists(st.lists(operation, min_size=1, max_size=5), min_size=1, max_size=8)


class Run:
    def __init__(self, baton: Baton, pool: asyncpg.Pool, campaign: dict[str, Any]) -> None:
        self.baton, self.pool, self.c = baton, pool, campaign
        self.handed: list[tuple[int, int]] = []  # (texter, conversation)
        self.refusals: Counter[str] = Counter()
        self.largest_batch = 4

    def texter(self, index: int) -> int:
        return int(self.c["texters"][index])

    async def apply(self, op: tuple[str, Any, Any]) -> None:
        kind, value, extra = op
        try:
            if kind == "request":
                data = await self.baton.call(api.ASSIGN_REQUEST, campaign_id=self.c["campaign"],
                                             as_user=self.texter(value), kind=extra)  # fmt: skip
                self.handed += [(self.texter(value), cid) for cid in data["conversation_ids"]]
            elif kind == "join":
                token = self.c["tokens"][extra]
                data = await self.baton.call(
                    api.ASSIGN_JOIN, token=token, as_user=self.texter(value)
                )
                self.handed += [(self.texter(value), cid) for cid in data["conversation_ids"]]
            elif kind == "send_all":
                await self.pool.execute(
                    """UPDATE conversation SET status = 'awaiting_reply'
                       WHERE assignee_id = $1 AND status = 'not_started'""", self.texter(value))  # fmt: skip
            elif kind == "reply":
                # A contact answers: after an initial sent by anyone, or one sent in the background
                # before the conversation was handed out (seed 000).
                await self.pool.execute(
                    """UPDATE conversation SET status = 'needs_reply', needs_reply_since = now()
                       WHERE id = (SELECT id FROM conversation WHERE campaign_id = $1
                                   ORDER BY id OFFSET $2 LIMIT 1)
                         AND (status = 'awaiting_reply'
                              OR (status = 'not_started' AND assignee_id IS NULL))""",
                    self.c["campaign"], value,
                )  # fmt: skip
            else:
                field = {"batch_size": "batch_size", "self_assign": "self_assign",
                         "require_replies": "require_replies_handled"}[kind]  # fmt: skip
                if kind == "batch_size":
                    self.largest_batch = max(self.largest_batch, value)
                await self.baton.call(api.CAMPAIGN_UPDATE, as_user=self.c["owner"],
                                      campaign_id=self.c["campaign"], **{field: value})  # fmt: skip
        except BatonError as refusal:
            assert refusal.code in EXPECTED_REFUSALS, (op, refusal.code, refusal.message)
            self.refusals[refusal.code] += 1


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=schedules)
async def test_random_interleavings_keep_every_invariant(
    assigner: Baton, pool: asyncpg.Pool, schedule: list[list[tuple[str, Any, Any]]]
) -> None:
    campaign = await campaign_with_texters(assigner, texters=2, contacts=CONTACTS, batch_size=4)
    # Members of the organization who are not on the campaign: they only ever join by link.
    # (Made as members, not taken off the campaign: someone taken off is not let back by a link.)
    for n in range(TEXTERS - 2):
        joiner = await assigner.call(api.USER_CREATE, as_user=campaign["owner"],
                                     org_id=campaign["org"], name=f"joiner {n}", role="texter")  # fmt: skip
        campaign["texters"].append(joiner["user_id"])
    campaign["tokens"] = {
        kind: (await assigner.call(api.CAMPAIGN_INVITE, as_user=campaign["owner"],
                                   campaign_id=campaign["campaign"], kind=kind))["token"]
        for kind in ("initials", "replies")
    }  # fmt: skip
    run = Run(assigner, pool, campaign)
    for group in schedule:
        await asyncio.gather(*(run.apply(op) for op in group))
        # No texter ever holds more unsent initials than one batch: a second batch needs the
        # first sent, whatever ran at the same time.
        held = await pool.fetch(
            """SELECT assignee_id, count(*) AS n FROM conversation
               WHERE campaign_id = $1 AND status = 'not_started' AND assignee_id IS NOT NULL
               GROUP BY assignee_id""", campaign["campaign"])  # fmt: skip
        assert all(r["n"] <= run.largest_batch for r in held), held

    handed_ids = [cid for _, cid in run.handed]
    assert len(handed_ids) == len(set(handed_ids)), "a conversation was handed out twice"
    rows = await pool.fetch(
        "SELECT id, assignee_id FROM conversation WHERE campaign_id = $1", campaign["campaign"]
    )
    assignee = {r["id"]: r["assignee_id"] for r in rows}
    for texter, cid in run.handed:
        assert assignee[cid] == texter
    assert sum(1 for a in assignee.values() if a is not None) == len(run.handed)
    events = await pool.fetch(
        """SELECT conversation_id, to_texter_id FROM assignment_move
           WHERE campaign_id = $1 ORDER BY event_id""", campaign["campaign"])  # fmt: skip
    assert sorted((e["to_texter_id"], e["conversation_id"]) for e in events) == sorted(run.handed)
    members = {r["user_id"] for r in await pool.fetch(
        "SELECT user_id FROM campaign_texter WHERE campaign_id = $1", campaign["campaign"])}  # fmt: skip
    assert {texter for texter, _ in run.handed} <= members
