"""Edges an integrator drove into (the outside-in review of the declared API): each is refused
with the code its subject declares, or answered as the docs say."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from shared.contract import catalogue as api
from tests.support.baton_client import Baton, campaign_with_texters

pytestmark = pytest.mark.integration


async def test_numbers_past_a_bigint_are_a_bad_request_not_an_internal_error(
    assigner: Baton,
) -> None:
    c = await campaign_with_texters(assigner, texters=2, contacts=4)
    first, second = c["texters"]
    too_large = 2**63
    refused = await assigner.error(api.CONVERSATIONS, as_user=c["owner"],
                                   campaign_id=c["campaign"], after=too_large)  # fmt: skip
    assert refused.code == "bad_request" and "after" in refused.message
    refused = await assigner.error(api.REASSIGN, as_user=c["owner"], campaign_id=c["campaign"],
                                   from_texter_id=first, status="any", to_texter_ids=[second],
                                   count=10**30)  # fmt: skip
    assert refused.code == "bad_request" and "count" in refused.message


async def test_the_inbox_is_the_callers_own_whatever_their_role(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=6, batch_size=2)
    owner, campaign = c["owner"], c["campaign"]
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=owner, campaign_id=campaign,
                        user_ids=[owner])  # fmt: skip
    mine = (await assigner.call(api.ASSIGN_REQUEST, as_user=owner,
                                campaign_id=campaign))["conversation_ids"]  # fmt: skip
    await assigner.call(api.ASSIGN_REQUEST, as_user=c["texters"][0], campaign_id=campaign)
    inbox = await assigner.call(api.CONVERSATIONS, as_user=owner, campaign_id=campaign,
                                inbox=True)  # fmt: skip
    assert sorted(r["conversation_id"] for r in inbox["conversations"]) == sorted(mine)
    refused = await assigner.error(api.CONVERSATIONS, as_user=owner, campaign_id=campaign,
                                   inbox=True, unassigned=True)  # fmt: skip
    assert refused.code == "bad_request"


async def test_a_key_used_for_an_initial_is_refused_for_a_reply(
    assigner: Baton, sender: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=2, batch_size=2)
    texter = c["texters"][0]
    held = (await assigner.call(api.ASSIGN_REQUEST, as_user=texter,
                                campaign_id=c["campaign"]))["conversation_ids"]  # fmt: skip
    key = str(uuid.uuid4())
    await sender.call(api.SEND_INITIAL, as_user=texter, conversation_id=held[0], body="Hi",
                      idempotency_key=key)  # fmt: skip
    await pool.execute("UPDATE conversation SET status = 'needs_reply', needs_reply_since = now() "
                       "WHERE id = $1", held[0])  # fmt: skip
    refused = await sender.error(api.SEND_REPLY, as_user=texter, conversation_id=held[0],
                                 body="Thanks!", idempotency_key=key)  # fmt: skip
    assert refused.code == "idempotency_key_reused"
    assert await pool.fetchval("SELECT count(*) FROM message WHERE conversation_id = $1",
                               held[0]) == 1  # fmt: skip


async def test_an_unknown_field_nested_in_a_request_is_refused(assigner: Baton) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    refused = await assigner.error(api.CAMPAIGN_UPDATE, as_user=c["owner"],
                                   campaign_id=c["campaign"],
                                   texting_hours={"start": 9, "end": 21, "tz": "x"})  # fmt: skip
    assert refused.code == "bad_request" and "tz" in refused.message


async def test_a_texter_reads_the_campaigns_they_text_on_and_no_other(assigner: Baton) -> None:
    """A texter's app shows the campaign's texting hours: its texters may read it."""
    c = await campaign_with_texters(assigner, texters=1, contacts=0)
    texter = c["texters"][0]
    read = await assigner.call(api.CAMPAIGN_READ, as_user=texter, campaign_id=c["campaign"])
    assert read["texting_hours"] == {"start": 0, "end": 24}
    other = await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                name="Not on it", role="texter")  # fmt: skip
    refused = await assigner.error(api.CAMPAIGN_READ, as_user=other["user_id"],
                                   campaign_id=c["campaign"])  # fmt: skip
    assert refused.code == "not_a_member"
    stranger = await campaign_with_texters(assigner, texters=1, contacts=0)
    hidden = await assigner.error(api.CAMPAIGN_READ, as_user=stranger["texters"][0],
                                  campaign_id=c["campaign"])  # fmt: skip
    assert hidden.code == "not_found"
