"""Hypothesis-generated payloads on every subject of every service: always a structured reply,
never a crash or an internal error, the service keeps serving, and a refused request changes
nothing in Postgres. The JetStream subjects the bridge publishes to get the same treatment: each
message is handled or dead-lettered on its first delivery, never retried as a failure, and a
dead-lettered one changes nothing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from uuid import uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from shared.contract import catalogue as api
from shared.contract.catalogue import BY_SUBJECT, CORE_SERVICE_NAMES, ROUTES
from shared.contract.error_codes import ErrorCode
from shared.runtime.jetstream import INBOUND
from tests.support.baton_client import OPERATOR, Baton, auth_headers, campaign_with_texters
from tests.support.snapshots import snapshot
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

# The subjects of the four core services this test runs; the provider bridge serves only its
# status subject, the same handler every service binds (shared/runtime/service.py).
SUBJECTS = sorted(entry.subject for entry in ROUTES if entry.service in CORE_SERVICE_NAMES)
# JetStream subject -> the durable consumer that takes it.
STREAM_SUBJECTS = {
    api.INBOUND_SMS.subject: "inbound-sms",
    api.INBOUND_RECEIPT.subject: "sender-receipts",
}
FIELDS = ["name", "org_id", "campaign_id", "texter_id", "assignee_id", "user_ids", "role", "kind", "status",
          "title", "token", "contacts", "count", "to_texter_ids", "from_texter_id", "confirm",
          "default_batch_size", "batch_size", "conversation_id", "to_texter_id", "limit", "after",
          "texting_hours", "phone", "unassigned", "inbox", "self_assign", "from_unassigned", "body",
          "idempotency_key", "held_longer_than_hours", "from", "to", "provider_message_id",
          "received_at", "message_id", "error_code", "closing_margin_minutes", "fallback_zone"]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=50),
    st.text(alphabet="0123456789+-() ", max_size=16), st.sampled_from(["owner", "texter", "initials", "any", "active"]),
    st.sampled_from(["+12022000001", "STOP", "delivered", "failed", "2026-11-22T10:00:00Z"]),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from([*FIELDS, "start", "end", "x"]), inner, max_size=4), max_leaves=10)  # fmt: skip
payloads = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), values, max_size=8).map(
        lambda d: json.dumps(d).encode()),
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
)  # fmt: skip
# Who sends it: nobody, the operator, the seeded owner (user 1) and texters (2-4), a stranger.
callers = st.sampled_from([None, OPERATOR, 1, 2, 3, 4, 999])
# Nonsense may be refused with any code its subject declares, but never "internal" (a bug) or
# "unavailable" (nothing is down here).
NEVER = {ErrorCode.INTERNAL, ErrorCode.UNAVAILABLE}


async def _seed(assigner: Baton, pool: asyncpg.Pool) -> None:
    if not await pool.fetchval("SELECT count(*) FROM campaign"):
        # Something real to aim at: small ids name an org, people, a live campaign, conversations.
        await campaign_with_texters(assigner, texters=3, contacts=50, batch_size=5)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subject=st.sampled_from(SUBJECTS), payload=payloads, caller=callers)
async def test_any_payload_gets_a_structured_answer_and_refusals_change_nothing(
    assigner: Baton, sender: Baton, inbound: Baton, reaper: Baton, pool: asyncpg.Pool,
    subject: str, payload: bytes, caller: int | str | None,
) -> None:  # fmt: skip
    await _seed(assigner, pool)
    before = await snapshot(pool)
    reply = await assigner.nc.request(subject, payload, timeout=10, headers=auth_headers(caller))
    body = json.loads(reply.data)
    assert set(body) <= {"ok", "data", "error"}
    if body["ok"]:
        return
    # A code the catalogue declares for this subject: docs/api.md lists them per subject.
    code = body["error"]["code"]
    assert code in BY_SUBJECT[subject].errors and code not in NEVER, (subject, payload, body)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert await snapshot(pool) == before, (subject, payload, body)


def _handled(consumer: str) -> dict[str, float]:
    outcomes = ("ok", "dead_lettered", "retried", "unavailable")
    return {
        outcome: REGISTRY.get_sample_value(
            "baton_consumer_messages_total", {"consumer": consumer, "outcome": outcome}
        )
        or 0.0
        for outcome in outcomes
    }


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subject=st.sampled_from(sorted(STREAM_SUBJECTS)), payload=payloads)
async def test_any_message_from_the_bridge_is_handled_or_dead_lettered_at_once(
    assigner: Baton, sender: Baton, inbound: Baton, pool: asyncpg.Pool, subject: str,
    payload: bytes,
) -> None:  # fmt: skip
    await _seed(assigner, pool)
    consumer = STREAM_SUBJECTS[subject]
    before, handled = await snapshot(pool), _handled(consumer)
    await assigner.nc.jetstream().publish(subject, payload, headers={"Nats-Msg-Id": uuid4().hex})

    async def settled() -> dict[str, float] | None:
        now = _handled(consumer)
        return now if sum(now.values()) > sum(handled.values()) else None

    after = await eventually(settled, within=15)
    for retry in ("retried", "unavailable"):  # never a failure loop
        assert after[retry] == handled[retry], (subject, payload)
    if after["dead_lettered"] > handled["dead_lettered"]:
        assert await snapshot(pool) == before, (subject, payload)
    # Settled for good: nothing left waiting for a redelivery or an ack.
    assert await eventually(_consumer_idle(assigner, consumer), within=15)


def _consumer_idle(client: Baton, consumer: str) -> Callable[[], Awaitable[bool]]:
    async def idle() -> bool:
        info = await client.nc.jetstream().consumer_info(INBOUND.name, consumer)
        return not info.num_pending and not info.num_ack_pending

    return idle
