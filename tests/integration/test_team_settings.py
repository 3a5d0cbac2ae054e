"""Issue #33, teams that decide what their campaigns hand out, on real NATS and Postgres: the
kind of batch a campaign limited to a team hands its texters, and the largest batch (the smaller
of the campaign's batch size and the team's `max_request_size`), set with
`baton.admin.team.update` by an admin."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from shared.contract import catalogue as api
from tests.support.baton_client import Baton, campaign_with_texters
from tests.support.snapshots import snapshot

pytestmark = pytest.mark.integration


async def _team_campaign(assigner: Baton) -> dict[str, Any]:
    """An organization (from campaign_with_texters) with a team of its two texters and an
    active campaign limited to that team: 30 contacts, batches of 10, open all day."""
    c = await campaign_with_texters(assigner, texters=2, contacts=0)
    owner, org = c["owner"], c["org"]
    c["team"] = (await assigner.call(api.TEAM_CREATE, as_user=owner, org_id=org,
                                     name="Phones"))["team_id"]  # fmt: skip
    await assigner.call(api.TEAM_ADD_MEMBERS, as_user=owner, team_id=c["team"],
                        user_ids=c["texters"])  # fmt: skip
    campaign = (await assigner.call(api.CAMPAIGN_CREATE, as_user=owner, org_id=org,
                                    title="Team only", team_id=c["team"],
                                    texting_hours={"start": 0, "end": 24}))["campaign_id"]  # fmt: skip
    await assigner.call(api.CONTACTS_IMPORT, as_user=owner, campaign_id=campaign,
                        contacts=[{"phone": f"+1415555{n:04d}"} for n in range(30)])  # fmt: skip
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner, campaign_id=campaign,
                        status="active", self_assign=True, batch_size=10)  # fmt: skip
    await assigner.call(api.CAMPAIGN_TEXTERS_ADD, as_user=owner, campaign_id=campaign,
                        user_ids=c["texters"])  # fmt: skip
    c["campaign"] = campaign
    return c


async def test_an_admin_sets_a_teams_settings_and_the_team_list_shows_them(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _team_campaign(assigner)
    moderator = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                     name="Mo", role="moderator"))["user_id"]  # fmt: skip
    other = await campaign_with_texters(assigner, texters=0, contacts=0)
    before = await snapshot(pool)
    assert (await assigner.error(api.TEAM_UPDATE, as_user=moderator, team_id=c["team"],
                                 assignment_priority=3)).code == "forbidden"  # fmt: skip
    assert (await assigner.error(api.TEAM_UPDATE, as_user=other["owner"], team_id=c["team"],
                                 assignment_priority=3)).code == "not_found"  # fmt: skip
    assert (await assigner.error(api.TEAM_UPDATE, as_user=c["owner"], team_id=c["team"],
                                 max_request_size=0)).code == "bad_request"  # fmt: skip
    assert await snapshot(pool) == before
    team = await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=c["team"],
                               assignment_priority=3, assignment_kind="initials",
                               max_request_size=4)  # fmt: skip
    assert team == {"team_id": c["team"], "org_id": c["org"], "name": "Phones",
                    "assignment_priority": 3, "assignment_kind": "initials",
                    "max_request_size": 4}  # fmt: skip
    # What a request leaves out stays as it was; null lifts the limit.
    team = await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=c["team"],
                               max_request_size=None)  # fmt: skip
    assert (team["assignment_priority"], team["assignment_kind"], team["max_request_size"]) == (
        3, "initials", None)  # fmt: skip
    listed = await assigner.call(api.ORG_TEAMS, as_user=c["owner"], org_id=c["org"])
    assert listed["teams"][0]["assignment_kind"] == "initials"
    assert listed["teams"][0]["assignment_priority"] == 3


async def test_the_teams_max_request_size_caps_a_batch_below_the_campaigns(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _team_campaign(assigner)
    first, second = c["texters"]
    await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=c["team"],
                        max_request_size=4)  # fmt: skip
    capped = await assigner.call(api.ASSIGN_REQUEST, as_user=first, campaign_id=c["campaign"])
    assert capped["count"] == 4
    # Larger than the campaign's batch size: the campaign's (10) holds.
    await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=c["team"],
                        max_request_size=50)  # fmt: skip
    full = await assigner.call(api.ASSIGN_REQUEST, as_user=second, campaign_id=c["campaign"])
    assert full["count"] == 10
    held = await pool.fetchval("SELECT count(*) FROM conversation WHERE campaign_id = $1 AND "
                               "assignee_id IS NOT NULL", c["campaign"])  # fmt: skip
    assert held == 14


@pytest.mark.parametrize("level", ["auto_approve", "approval_required"])
async def test_a_request_of_a_kind_the_team_does_not_take_is_refused_and_changes_nothing(
    assigner: Baton, pool: asyncpg.Pool, level: str
) -> None:
    c = await _team_campaign(assigner)
    texter = c["texters"][0]
    await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=c["team"],
                        assignment_kind="replies")  # fmt: skip
    await assigner.call(api.ORG_MEMBERS_UPDATE, as_user=c["owner"], org_id=c["org"],
                        user_id=texter, request_level=level)  # fmt: skip
    before = await snapshot(pool)
    refusal = await assigner.error(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"],
                                   kind="initials")  # fmt: skip
    assert refusal.code == "kind_not_allowed" and refusal.details == {"allowed": "replies"}
    assert await snapshot(pool) == before
    if level == "approval_required":
        # Refused up front, not queued to fail at approval; the kind it takes waits for one.
        waiting = await assigner.call(api.ASSIGN_REQUEST, as_user=texter,
                                      campaign_id=c["campaign"], kind="replies")  # fmt: skip
        assert waiting["status"] == "pending_approval"
        return
    # The kind it takes goes through to the claim (no reply waits yet).
    replies = await assigner.error(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"],
                                   kind="replies")  # fmt: skip
    assert replies.code == "no_more_conversations"
    await assigner.call(api.TEAM_UPDATE, as_user=c["owner"], team_id=c["team"],
                        assignment_kind="both")  # fmt: skip
    batch = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    assert batch["count"] == 10


async def test_team_ids_replace_team_id_and_the_previous_releases_writes_are_mirrored(
    assigner: Baton, pool: asyncpg.Pool
) -> None:
    c = await _team_campaign(assigner)
    owner, org = c["owner"], c["org"]
    other_team = (await assigner.call(api.TEAM_CREATE, as_user=owner, org_id=org,
                                      name="Second"))["team_id"]  # fmt: skip
    stranger = await campaign_with_texters(assigner, texters=0, contacts=0)
    foreign = (await assigner.call(api.TEAM_CREATE, as_user=stranger["owner"],
                                   org_id=stranger["org"], name="Theirs"))["team_id"]  # fmt: skip
    shown = await assigner.call(api.CAMPAIGN_READ, as_user=owner, campaign_id=c["campaign"])
    assert (shown["team_ids"], shown["team_id"]) == ([c["team"]], c["team"])
    both = sorted([c["team"], other_team])
    updated = await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner, campaign_id=c["campaign"],
                                  team_ids=both)  # fmt: skip
    assert updated["team_ids"] == both
    before = await snapshot(pool)
    refusals = [
        await assigner.error(api.CAMPAIGN_UPDATE, as_user=owner, campaign_id=c["campaign"],
                             team_ids=[other_team, foreign]),
        await assigner.error(api.CAMPAIGN_CREATE, as_user=owner, org_id=org, title="X",
                             team_ids=[foreign]),
        await assigner.error(api.CAMPAIGN_CREATE, as_user=owner, org_id=org, title="X",
                             team_ids=[other_team], team_id=other_team),
    ]  # fmt: skip
    assert [r.code for r in refusals] == ["not_found", "not_found", "bad_request"]
    assert await snapshot(pool) == before
    # The deprecated `team_id` still creates a campaign limited to that team.
    old_style = (await assigner.call(api.CAMPAIGN_CREATE, as_user=owner, org_id=org,
                                     title="Old client", team_id=other_team))["campaign_id"]  # fmt: skip
    read = await assigner.call(api.CAMPAIGN_READ, as_user=owner, campaign_id=old_style)
    assert read["team_ids"] == [other_team]
    cleared = await assigner.call(api.CAMPAIGN_UPDATE, as_user=owner, campaign_id=old_style,
                                  team_ids=[])  # fmt: skip
    assert (cleared["team_ids"], cleared["team_id"]) == ([], None)
    # The previous release's code writes only campaign.team_id: the trigger mirrors it.
    mirrored = await pool.fetchval(
        """WITH c AS (INSERT INTO campaign (org_id, team_id, title, batch_size)
                      VALUES ($1, $2, 'written by 0.1.0', 300) RETURNING id)
           SELECT c.id FROM c""", org, c["team"])  # fmt: skip
    assert await pool.fetchval("SELECT array_agg(team_id) FROM campaign_team WHERE "
                               "campaign_id = $1", mirrored) == [c["team"]]  # fmt: skip
