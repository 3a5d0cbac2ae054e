"""Issue #33, the reads an admin app needs, on real NATS and Postgres: an organization's
campaigns (paged, counts from the tallies equal to the rows), its teams with their members, a
campaign's invite links; each shows only what the caller's role may see."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from shared.contract import catalogue as api
from tests.support.baton_client import Baton, campaign_with_texters

pytestmark = pytest.mark.integration


async def _org(assigner: Baton) -> dict[str, Any]:
    """An organization with an active campaign (a texter holding a batch), two more campaigns
    (drafts, one with the texter on it), a moderator, two teams and three invite links."""
    c = await campaign_with_texters(assigner, texters=2, contacts=12, batch_size=4)
    owner, org = c["owner"], c["org"]
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner, campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    await assigner.call(api.ASSIGN_REQUEST, as_user=c["texters"][0], campaign_id=c["campaign"])
    c["drafts"] = [
        (await assigner.call(api.CAMPAIGN_CREATE, as_user=owner, org_id=org,
                             title=f"Draft {n}"))["campaign_id"]
        for n in range(2)
    ]  # fmt: skip
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=owner, campaign_id=c["drafts"][1],
                        user_ids=[c["texters"][0]])  # fmt: skip
    c["moderator"] = (await assigner.call(api.USER_CREATE, as_user=owner, org_id=org,
                                          name="Mo", role="moderator"))["user_id"]  # fmt: skip
    c["teams"] = []
    for name, members in (("East", c["texters"][:1]), ("West", c["texters"][1:])):
        team = (await assigner.call(api.TEAM_CREATE, as_user=owner, org_id=org,
                                    name=name))["team_id"]  # fmt: skip
        await assigner.call(api.TEAM_ADD_MEMBERS, as_user=owner, team_id=team, user_ids=members)
        c["teams"].append(team)
    c["tokens"] = [
        (await assigner.call(api.CAMPAIGN_INVITE, as_user=c["moderator"],
                             campaign_id=c["campaign"], kind=kind))["token"]
        for kind in ("initials", "replies", "initials")
    ]  # fmt: skip
    await assigner.call(api.CAMPAIGN_INVITE_REVOKE, as_user=owner, token=c["tokens"][2])
    return c


async def test_a_moderator_pages_every_campaign_with_counts_that_match_the_rows(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _org(assigner)
    first = await assigner.call(api.ORG_CAMPAIGNS, as_user=c["moderator"], org_id=c["org"],
                                limit=2)  # fmt: skip
    rest = await assigner.call(api.ORG_CAMPAIGNS, as_user=c["moderator"], org_id=c["org"],
                               after_id=first["next_after_id"], limit=2)  # fmt: skip
    listed = first["campaigns"] + rest["campaigns"]
    assert [x["campaign_id"] for x in listed] == [c["campaign"], *c["drafts"]]
    assert rest["next_after_id"] is None
    assert [x["status"] for x in listed] == ["active", "draft", "draft"]
    assert listed[0]["created_at"].endswith("Z")
    rows = await pool.fetch("SELECT status, count(*) AS n, count(*) FILTER (WHERE assignee_id IS "
                            "NULL) AS unassigned FROM conversation WHERE campaign_id = $1 "
                            "GROUP BY status", c["campaign"])  # fmt: skip
    counts = listed[0]["counts"]
    assert counts["total"] == 12 and counts["unassigned"] == 8
    assert {k: v for k, v in counts["by_status"].items() if v} == {r["status"]: r["n"]
                                                                  for r in rows}  # fmt: skip
    assert counts["unassigned"] == sum(r["unassigned"] for r in rows)
    assert listed[1]["counts"] == {"total": 0, "unassigned": 0,
                                   "by_status": dict.fromkeys(counts["by_status"], 0)}  # fmt: skip
    drafts = await assigner.call(api.ORG_CAMPAIGNS, as_user=c["moderator"], org_id=c["org"],
                                 status="draft")  # fmt: skip
    assert [x["campaign_id"] for x in drafts["campaigns"]] == c["drafts"]


async def test_a_texter_sees_only_the_campaigns_they_text_on_and_no_counts(
    assigner: Baton,
) -> None:
    c = await _org(assigner)
    mine = await assigner.call(api.ORG_CAMPAIGNS, as_user=c["texters"][0], org_id=c["org"])
    assert [x["campaign_id"] for x in mine["campaigns"]] == [c["campaign"], c["drafts"][1]]
    assert all(x["counts"] is None for x in mine["campaigns"])
    theirs = await assigner.call(api.ORG_CAMPAIGNS, as_user=c["texters"][1], org_id=c["org"])
    assert [x["campaign_id"] for x in theirs["campaigns"]] == [c["campaign"]]


async def test_teams_come_with_their_members_and_a_texter_sees_only_their_own(
    assigner: Baton,
) -> None:
    c = await _org(assigner)
    everyone = await assigner.call(api.ORG_TEAMS, as_user=c["moderator"], org_id=c["org"])
    assert [(t["team_id"], t["name"], [m["user_id"] for m in t["members"]])
            for t in everyone["teams"]] == [
        (c["teams"][0], "East", c["texters"][:1]), (c["teams"][1], "West", c["texters"][1:])]  # fmt: skip
    own = await assigner.call(api.ORG_TEAMS, as_user=c["texters"][1], org_id=c["org"])
    assert [t["team_id"] for t in own["teams"]] == [c["teams"][1]]
    paged = await assigner.call(api.ORG_TEAMS, as_user=c["owner"], org_id=c["org"], limit=1)
    assert paged["next_after_id"] == c["teams"][0]


async def test_invite_links_for_moderators_with_the_revoked_on_request(
    assigner: Baton,
) -> None:
    c = await _org(assigner)
    live = await assigner.call(api.CAMPAIGN_INVITES, as_user=c["moderator"],
                               campaign_id=c["campaign"])  # fmt: skip
    assert [(i["token"], i["kind"], i["revoked_at"]) for i in live["invites"]] == [
        (c["tokens"][0], "initials", None), (c["tokens"][1], "replies", None)]  # fmt: skip
    assert all(i["created_by"] == c["moderator"] for i in live["invites"])
    every = await assigner.call(api.CAMPAIGN_INVITES, as_user=c["moderator"],
                                campaign_id=c["campaign"], include_revoked=True)  # fmt: skip
    assert [i["token"] for i in every["invites"]] == c["tokens"]
    assert every["invites"][2]["revoked_at"].endswith("Z")
    texter = await assigner.error(api.CAMPAIGN_INVITES, as_user=c["texters"][0],
                                  campaign_id=c["campaign"])  # fmt: skip
    assert texter.code == "forbidden"


async def test_another_organization_reads_nothing(assigner: Baton) -> None:
    c = await _org(assigner)
    other = await campaign_with_texters(assigner, texters=1, contacts=1)
    for route, payload in ((api.ORG_CAMPAIGNS, {"org_id": c["org"]}),
                           (api.ORG_TEAMS, {"org_id": c["org"]}),
                           (api.CAMPAIGN_INVITES, {"campaign_id": c["campaign"]})):  # fmt: skip
        refusal = await assigner.error(route, as_user=other["owner"], **payload)
        assert refusal.code == "not_found", route.subject


async def test_a_campaign_limited_to_several_teams_lists_them_all(assigner: Baton) -> None:
    c = await _org(assigner)
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["drafts"][0],
                        team_ids=c["teams"])  # fmt: skip
    listed = await assigner.call(api.ORG_CAMPAIGNS, as_user=c["moderator"], org_id=c["org"])
    teams = {x["campaign_id"]: x["team_ids"] for x in listed["campaigns"]}
    assert teams == {c["campaign"]: [], c["drafts"][0]: sorted(c["teams"]), c["drafts"][1]: []}
    one = await assigner.call(api.CAMPAIGN_READ, as_user=c["moderator"],
                          campaign_id=c["drafts"][0])  # fmt: skip
    assert one["team_ids"] == teams[c["drafts"][0]]
