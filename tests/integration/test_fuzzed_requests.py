"""Hypothesis-generated payloads on every subject: always a structured reply, never a crash or an
internal error, the service keeps serving, and a refused request changes nothing in Postgres."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api_docs import catalog
from tests.support.baton_client import Baton, campaign_with_texters

pytestmark = pytest.mark.integration

SUBJECTS = sorted(subject for service, subject, _, _ in catalog() if service == "assigner")
FIELDS = ["name", "org_id", "actor_id", "campaign_id", "texter_id", "user_ids", "role", "kind", "status",
          "title", "token", "contacts", "count", "to_texter_ids", "from_texter_id", "confirm",
          "default_batch_size", "batch_size", "conversation_id", "to_texter_id", "limit", "after",
          "texting_hours", "phone", "unassigned", "inbox", "self_assign", "from_unassigned"]  # fmt: skip
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=50),
    st.text(alphabet="0123456789+-() ", max_size=16), st.sampled_from(["owner", "texter", "initials", "any", "active"]),
)  # fmt: skip
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from([*FIELDS, "start", "end", "x"]), inner, max_size=4), max_leaves=10)  # fmt: skip
payloads = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), values, max_size=8).map(
        lambda d: json.dumps(d).encode()),
    st.binary(max_size=64),
    st.text(max_size=64).map(str.encode),
)  # fmt: skip
# Codes a caller may legitimately get back for nonsense; "internal" or "unavailable" never.
EXPECTED = {
    "bad_request", "not_found", "forbidden", "conflict", "not_a_member", "self_assign_disabled",
    "campaign_not_active", "initials_pending", "replies_pending", "no_more_conversations",
    "invalid_invite", "confirmation_required", "busy", "payload_too_large",
}  # fmt: skip
TABLES = ["organization", "app_user", "organization_member", "team", "team_member", "campaign",
          "campaign_texter", "invite_link", "contact", "conversation", "assignment_event", "outbox"]  # fmt: skip


async def _counts(pool: asyncpg.Pool) -> dict[str, Any]:
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(subject=st.sampled_from(SUBJECTS), payload=payloads)
async def test_any_payload_gets_a_structured_answer_and_refusals_change_nothing(
    assigner: Baton, pool: asyncpg.Pool, subject: str, payload: bytes
) -> None:
    if not await pool.fetchval("SELECT count(*) FROM campaign"):
        # Something real to aim at: small ids name an org, people, a live campaign, conversations.
        await campaign_with_texters(assigner, texters=3, contacts=50, batch_size=5)
    before = await _counts(pool)
    reply = await assigner.nc.request(subject, payload, timeout=10)
    body = json.loads(reply.data)
    assert set(body) <= {"ok", "data", "error"}
    if body["ok"]:
        return
    assert body["error"]["code"] in EXPECTED, (subject, payload, body)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert await _counts(pool) == before, (subject, payload, body)
