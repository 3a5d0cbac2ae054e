"""Held initials whose texting hours have closed go back to the pool (issue #19).

A texter cannot send an initial outside the contact's hours, and unsent initials block their next
request (`initials_pending`): without this, whoever requested at 20:55 would be stuck holding
conversations they cannot text until morning. Each reaper pass returns to Unassigned every
not_started conversation held in an active self-assign campaign whose contact's hours are closed
by the sender's rule (shared/domain/texting_hours.py, no margin: what is handed out before the
margin can still be sent until the end). They are handed out again, to whoever asks, once they open.
Campaigns without self assignment keep what an admin assigned; so does anyone no longer a texter
on the campaign (the sender refuses them anyway, and they request nothing).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from services.reaper import queries
from shared.domain.texting_hours import CampaignHours
from shared.runtime.database import Connection

REASON = "texting_hours_closed"


def closed_groups(
    rows: list[queries.SelfAssignZoneGroupsRow], now: datetime
) -> tuple[list[int], list[int]]:
    """(campaign ids, zone groups): the pairs of `self_assign_zone_groups` closed at `now`."""
    campaigns: list[int] = []
    groups: list[int] = []
    for row in rows:
        if not CampaignHours.of_row(row).sendable(now, row.zones):
            campaigns.append(row.campaign_id)
            groups.append(row.zone_group)
    return campaigns, groups


async def release_closed_initials(
    conn: Connection, now: datetime, limit: int, operation: uuid.UUID
) -> list[queries.ReleaseClosedInitialsRow]:
    """Release them (inside the caller's pass, under its lock); the rows released."""
    campaigns, groups = closed_groups(await queries.self_assign_zone_groups(conn), now)
    if not campaigns:
        return []
    return await queries.release_closed_initials(
        conn, campaign_ids=campaigns, zone_groups=groups, limit=limit, operation=operation
    )
