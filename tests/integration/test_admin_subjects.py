"""Campaign administration over real NATS and Postgres, including every refusal."""

from __future__ import annotations

import asyncpg
import pytest

from shared.contract import catalogue as api
from tests.support.baton_client import OPERATOR, Baton

pytestmark = pytest.mark.integration


@pytest.fixture
def assigner(assigner_direct: Baton) -> Baton:
    """These are tests of the assigner's logic: its endpoints are called in process, on real
    Postgres, without NATS (tests/support/direct.py)."""
    return assigner_direct


async def _org_with_people(baton: Baton) -> dict[str, int]:
    org = (await baton.call(api.ORG_CREATE, as_user=OPERATOR, name="Bartlett 2020"))["org_id"]
    # The operator creates the first user, who becomes owner whatever role was asked for.
    owner = (await baton.call(api.USER_CREATE, as_user=OPERATOR, org_id=org,
                              name="Olivia", role="texter"))["user_id"]  # fmt: skip
    people = {"org": org, "owner": owner}
    for role in ("admin", "moderator", "texter"):
        people[role] = (
            await baton.call(api.USER_CREATE, as_user=owner, org_id=org,
                             name=role.title(), role=role)
        )["user_id"]  # fmt: skip
    return people


async def test_first_user_becomes_owner_and_later_ones_need_an_admin(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    people = await _org_with_people(assigner)
    role = await pool.fetchval(
        "SELECT role FROM organization_member WHERE user_id = $1", people["owner"]
    )
    assert role == "owner"
    # Nobody without a token; not the operator once the organization has people; not a moderator.
    refusal = await assigner.error(api.USER_CREATE, org_id=people["org"], name="X", role="texter")
    assert refusal.code == "unauthenticated"
    refusal = await assigner.error(api.USER_CREATE, as_user=OPERATOR,
                                   org_id=people["org"], name="X", role="texter")  # fmt: skip
    assert refusal.code == "forbidden"
    refusal = await assigner.error(api.USER_CREATE, as_user=people["moderator"],
                                   org_id=people["org"], name="X", role="texter")  # fmt: skip
    assert refusal.code == "forbidden"
    refusal = await assigner.error(api.USER_CREATE, as_user=OPERATOR, org_id=999,
                                   name="X", role="texter")  # fmt: skip
    assert refusal.code == "not_found"


async def test_org_default_batch_size_applies_to_campaigns_created_afterwards(
    assigner: Baton,
) -> None:
    p = await _org_with_people(assigner)
    first = await assigner.call(api.CAMPAIGN_CREATE, as_user=p["admin"], org_id=p["org"], title="A")
    assert first["batch_size"] == 300  # the product default
    await assigner.call(api.ORG_UPDATE, as_user=p["admin"], org_id=p["org"], default_batch_size=50)
    second = await assigner.call(
        api.CAMPAIGN_CREATE, as_user=p["admin"], org_id=p["org"], title="B"
    )
    assert second["batch_size"] == 50
    stats_first = await assigner.call(api.CAMPAIGN_UPDATE, as_user=p["moderator"],
                                      campaign_id=first["campaign_id"], replies_batch_size=20)  # fmt: skip
    assert stats_first["batch_size"] == 300  # unchanged by the new org default (seed 001)
    # null resets the org default to 300; a campaign's null returns to the org's current default.
    reset = await assigner.call(api.ORG_UPDATE, as_user=p["owner"], org_id=p["org"],
                                default_batch_size=None)  # fmt: skip
    assert reset["default_batch_size"] == 300
    back = await assigner.call(api.CAMPAIGN_UPDATE, as_user=p["moderator"],
                               campaign_id=second["campaign_id"], batch_size=None)  # fmt: skip
    assert back["batch_size"] == 300


@pytest.mark.parametrize("size", [0, 5001, -3, "300", 3.5])
async def test_out_of_range_batch_sizes_are_bad_requests_saying_the_range(
    assigner: Baton, size: object
) -> None:
    p = await _org_with_people(assigner)
    refusal = await assigner.error(api.ORG_UPDATE, as_user=p["admin"], org_id=p["org"],
                                   default_batch_size=size)  # fmt: skip
    assert refusal.code == "bad_request"
    assert "default_batch_size" in refusal.message


async def test_roles_are_enforced(assigner: Baton) -> None:
    p = await _org_with_people(assigner)
    assert (await assigner.error(api.ORG_UPDATE, as_user=p["moderator"], org_id=p["org"],
                                 default_batch_size=10)).code == "forbidden"  # fmt: skip
    assert (await assigner.error(api.CAMPAIGN_CREATE, as_user=p["texter"], org_id=p["org"],
                                 title="T")).code == "forbidden"  # fmt: skip
    campaign = (await assigner.call(api.CAMPAIGN_CREATE, as_user=p["admin"],
                                    org_id=p["org"], title="C"))["campaign_id"]  # fmt: skip
    assert (await assigner.error(api.CAMPAIGN_UPDATE, as_user=p["texter"],
                                 campaign_id=campaign, batch_size=10)).code == "forbidden"  # fmt: skip
    # A moderator sets batch sizes but does not launch campaigns.
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=p["moderator"], campaign_id=campaign,
                        batch_size=10, self_assign=True)  # fmt: skip
    assert (await assigner.error(api.CAMPAIGN_UPDATE, as_user=p["moderator"],
                                 campaign_id=campaign, status="active")).code == "forbidden"  # fmt: skip
    assert (await assigner.error(api.CAMPAIGN_UPDATE, as_user=p["admin"],
                                 campaign_id=404, status="active")).code == "not_found"  # fmt: skip
    # To an owner of another organization, this campaign does not exist.
    other = (await assigner.call(api.ORG_CREATE, as_user=OPERATOR, name="Other"))["org_id"]
    outsider = (await assigner.call(api.USER_CREATE, as_user=OPERATOR, org_id=other,
                                    name="Eve", role="owner"))["user_id"]  # fmt: skip
    assert (await assigner.error(api.CAMPAIGN_TEXTERS_ADD, as_user=outsider,
                                 campaign_id=campaign, user_ids=[outsider])).code == "not_found"  # fmt: skip
    assert (await assigner.error(api.CAMPAIGN_TEXTERS_ADD, as_user=p["admin"],
                                 campaign_id=campaign, user_ids=[outsider])).code == "not_a_member"  # fmt: skip


async def test_teams_invites_and_texters(assigner: Baton, pool: asyncpg.Pool) -> None:
    p = await _org_with_people(assigner)
    team = (await assigner.call(api.TEAM_CREATE, as_user=p["admin"], org_id=p["org"], name="East"))[
        "team_id"
    ]
    assert (await assigner.error(api.TEAM_CREATE, as_user=p["admin"], org_id=p["org"],
                                 name="East")).code == "conflict"  # fmt: skip
    added = await assigner.call(api.TEAM_ADD_MEMBERS, as_user=p["admin"], team_id=team,
                                user_ids=[p["texter"], p["moderator"]])  # fmt: skip
    assert added["changed"] == 2
    campaign = (await assigner.call(api.CAMPAIGN_CREATE, as_user=p["admin"], org_id=p["org"],
                                    title="C", team_id=team))["campaign_id"]  # fmt: skip
    changed = await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=p["moderator"],
                                  campaign_id=campaign, user_ids=[p["texter"], p["texter"]])  # fmt: skip
    assert changed["changed"] == 1
    removed = await assigner.call(api.CAMPAIGN_TEXTERS_REMOVE, as_user=p["moderator"],
                                  campaign_id=campaign, user_ids=[p["texter"]])  # fmt: skip
    assert removed["changed"] == 1
    token = (await assigner.call(api.CAMPAIGN_INVITE, as_user=p["moderator"],
                                 campaign_id=campaign, kind="initials"))["token"]  # fmt: skip
    assert len(token) >= 20
    revoked = await assigner.call(api.CAMPAIGN_INVITE_REVOKE, as_user=p["moderator"], token=token)
    assert revoked["revoked"] is True
    assert await pool.fetchval(
        "SELECT revoked_at IS NOT NULL FROM invite_link WHERE token = $1", token
    )


async def test_contact_import_reports_every_rejection(assigner: Baton, pool: asyncpg.Pool) -> None:
    p = await _org_with_people(assigner)
    campaign = (await assigner.call(api.CAMPAIGN_CREATE, as_user=p["admin"], org_id=p["org"],
                                    title="C"))["campaign_id"]  # fmt: skip
    await pool.execute("INSERT INTO opt_out (org_id, phone) VALUES ($1, '+14155550199')", p["org"])
    result = await assigner.call(api.CONTACTS_IMPORT, as_user=p["moderator"], campaign_id=campaign,
        contacts=[
            {"phone": "(415) 555-0101", "first_name": "Chris", "fields": {"ward": 3}},
            {"phone": "+1 415 555 0101"},                 # the same number again
            {"phone": "not a number"},
            {"phone": "415-555-0199"},                    # opted out
            {"phone": "+14155550102", "timezone": "Mars/Olympus"},
            {"phone": "+14155550103", "timezone": "America/Chicago"},
        ],
    )  # fmt: skip
    assert result["imported"] == 2
    assert result["duplicates"] == 1
    reasons = {r["row"]: r["reason"].split(":")[0] for r in result["rejected"]}
    assert reasons == {1: "duplicate", 2: "invalid_phone", 3: "opted_out", 4: "invalid_timezone"}
    again = await assigner.call(api.CONTACTS_IMPORT, as_user=p["moderator"],
                                campaign_id=campaign, contacts=[{"phone": "+14155550101"}])  # fmt: skip
    assert again == {"imported": 0, "duplicates": 1,
                     "rejected": [{"row": 0, "reason": "duplicate: already in the campaign"}]}  # fmt: skip
    rows = await pool.fetch(
        """SELECT k.phone, k.fields, v.status, v.assignee_id FROM conversation v
           JOIN contact k ON k.id = v.contact_id ORDER BY k.phone"""
    )
    assert [(r["phone"], r["status"], r["assignee_id"]) for r in rows] == [
        ("+14155550101", "not_started", None), ("+14155550103", "not_started", None)
    ]  # fmt: skip
    assert (await assigner.error(api.CONTACTS_IMPORT, as_user=p["texter"],
                                 campaign_id=campaign, contacts=[])).code == "forbidden"  # fmt: skip


async def test_stats_and_conversation_pages(assigner: Baton, pool: asyncpg.Pool) -> None:
    p = await _org_with_people(assigner)
    campaign = (await assigner.call(api.CAMPAIGN_CREATE, as_user=p["admin"], org_id=p["org"],
                                    title="C"))["campaign_id"]  # fmt: skip
    await assigner.call(api.CONTACTS_IMPORT, as_user=p["admin"], campaign_id=campaign,
                        contacts=[{"phone": f"+1415555{n:04d}"} for n in range(5)])  # fmt: skip
    ids = [r["id"] for r in await pool.fetch("SELECT id FROM conversation ORDER BY id")]
    await pool.execute("UPDATE conversation SET assignee_id = $1, status = 'awaiting_reply' WHERE id = $2",
                       p["texter"], ids[0])  # fmt: skip
    await pool.execute(
        "UPDATE conversation SET assignee_id = $1 WHERE id = $2", p["texter"], ids[1]
    )
    stats = await assigner.call(api.CAMPAIGN_STATS, as_user=p["moderator"],
                                campaign_id=campaign)  # fmt: skip
    assert stats["total"] == 5
    assert stats["unassigned_by_status"]["not_started"] == 3
    assert stats["by_assignee"] == {str(p["texter"]): {
        "not_started": 1, "awaiting_reply": 1, "needs_reply": 0, "replied": 0, "closed": 0}}  # fmt: skip
    page = await assigner.call(api.CONVERSATIONS, as_user=p["moderator"],
                               campaign_id=campaign, limit=2)  # fmt: skip
    assert [c["conversation_id"] for c in page["conversations"]] == ids[:2]
    rest = await assigner.call(api.CONVERSATIONS, as_user=p["moderator"],
                               campaign_id=campaign, limit=10, after=page["next_after"])  # fmt: skip
    assert [c["conversation_id"] for c in rest["conversations"]] == ids[2:]
    assert rest["next_after"] is None
    inbox = await assigner.call(api.CONVERSATIONS, as_user=p["moderator"],
                                campaign_id=campaign, assignee_id=p["texter"], inbox=True)  # fmt: skip
    assert [c["conversation_id"] for c in inbox["conversations"]] == [
        ids[1]
    ]  # awaiting_reply hidden
    assert (await assigner.error(api.CAMPAIGN_STATS, as_user=p["moderator"],
                                 campaign_id=77)).code == "not_found"  # fmt: skip
    # A texter reads their own inbox, only in campaigns they text on, and nothing else.
    own = {"as_user": p["texter"], "campaign_id": campaign}
    assert (await assigner.error(api.CONVERSATIONS, **own)).code == "not_a_member"
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=p["moderator"],
                        campaign_id=campaign, user_ids=[p["texter"]])  # fmt: skip
    mine = await assigner.call(api.CONVERSATIONS, **own)
    assert [c["conversation_id"] for c in mine["conversations"]] == ids[:2]
    for wider in ({"unassigned": True}, {"assignee_id": p["moderator"]}):
        assert (await assigner.error(api.CONVERSATIONS, **own, **wider)).code == "forbidden"
    assert (await assigner.error(api.CAMPAIGN_STATS, **own)).code == "forbidden"
