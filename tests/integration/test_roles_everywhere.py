"""Every subject that changes something on someone's behalf refuses the wrong role, and an outsider
from another organization gets nothing from any of them."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support.baton_client import OPERATOR, Baton, campaign_with_texters

pytestmark = pytest.mark.integration


def _requests(
    c: dict[str, Any], actor: int, conversation: int, token: str
) -> dict[str, dict[str, Any]]:
    campaign, org, texter = c["campaign"], c["org"], c["texters"][0]
    return {
        "baton.admin.org.update": {"org_id": org, "default_batch_size": 10},
        "baton.admin.user.create": {"org_id": org, "name": "X", "role": "texter"},
        "baton.admin.team.create": {"org_id": org, "name": "T"},
        "baton.admin.campaign.create": {"org_id": org, "title": "C"},
        "baton.admin.campaign.update": {"campaign_id": campaign, "batch_size": 10},
        "baton.admin.campaign.texters.add": {"campaign_id": campaign, "user_ids": [texter]},
        "baton.admin.campaign.invite": {"campaign_id": campaign, "kind": "initials"},
        "baton.admin.campaign.invite.revoke": {"token": token},
        "baton.admin.contacts.import": {
            "campaign_id": campaign,
            "contacts": [{"phone": "+16505550199"}],
        },
        "baton.assign.reassign": {
            "campaign_id": campaign,
            "status": "any",
            "to_texter_ids": [texter],
        },
        "baton.assign.move": {"conversation_id": conversation, "to_texter_id": texter},
        # Last: the admin's pass below removes the texter the others need.
        "baton.admin.campaign.texters.remove": {"campaign_id": campaign, "user_ids": [texter]},
    }


async def test_texters_and_outsiders_are_refused_on_every_admin_subject(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await campaign_with_texters(assigner, texters=2, contacts=3, batch_size=3)
    texter = c["texters"][1]
    conversation = await pool.fetchval("SELECT min(id) FROM conversation")
    token = (await assigner.call("baton.admin.campaign.invite", as_user=c["owner"], campaign_id=c["campaign"],
                                 kind="initials"))["token"]  # fmt: skip
    other_org = (await assigner.call("baton.admin.org.create", as_user=OPERATOR, name="Elsewhere"))["org_id"]
    outsider = (
        await assigner.call("baton.admin.user.create", org_id=other_org, name="Eve", role="owner")
    )["user_id"]
    before = await pool.fetchval("SELECT count(*) FROM assignment_event")
    for actor in (texter, outsider):
        for subject, request in _requests(c, actor, conversation, token).items():
            refusal = await assigner.error(subject, as_user=actor, **request)
            assert refusal.code == "forbidden", (subject, actor, refusal.code, refusal.message)
    assert await pool.fetchval("SELECT count(*) FROM assignment_event") == before
    assert await pool.fetchval("SELECT count(*) FROM campaign") == 1
    # ...and the campaign's own admin may do each of them.
    for subject, request in _requests(c, c["owner"], conversation, token).items():
        await assigner.call(subject, as_user=c["owner"], **request)


async def test_a_texter_may_not_request_for_a_campaign_they_are_not_in(assigner: Baton) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=3, batch_size=3)
    stranger = (await assigner.call("baton.admin.user.create", as_user=c["owner"], org_id=c["org"],
                                    name="Not in it", role="texter"))["user_id"]  # fmt: skip
    refusal = await assigner.error(
        "baton.assign.request", campaign_id=c["campaign"], as_user=stranger
    )
    assert refusal.code == "not_a_member"
