"""Taking people off a campaign or out of an organization, changing their role, listing members
(issue #30, findings 2 and 3).

Removal cuts a person off where it happens, in one transaction: they are no longer a texter (or a
member), and every conversation they held there goes back to Unassigned with its events
(`unassign_held`), so nothing waits on someone who can no longer answer. Their messages stay:
replies already answered keep their history.

Owners and admins are the owner's to make, demote or remove; the last owner can be neither
demoted nor removed, so an organization always has someone who can run it.
"""

from __future__ import annotations

import asyncpg
import msgspec

from services.assigner import approvals_queries, membership_queries
from services.assigner import queries as assigner_queries
from services.assigner.admin import fetch_campaign_as
from services.assigner.approvals import cancel_waiting
from services.assigner.reassign import count_moves, unassign_held
from shared import outbox
from shared.access import Caller
from shared.access_policy import Role, allows, as_role
from shared.database import Connection
from shared.error_codes import ErrorCode
from shared.errors import BatonError, bad_request, forbidden, not_a_member, not_found
from shared.schemas import admin as s

# Roles only an owner may grant, take away or remove.
OWNERS_CALL: frozenset[str] = frozenset({"owner", "admin"})


class Membership:
    def __init__(self, pool: asyncpg.Pool, publisher: outbox.OutboxPublisher) -> None:
        self._pool = pool
        self._publisher = publisher

    async def remove_texters(self, request: s.CampaignTexters, caller: Caller) -> s.TextersChanged:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await fetch_campaign_as(conn, caller, request.campaign_id)
            await membership_queries.claim_locks(
                conn, org_id=row.org_id, campaign_id=row.id, user_ids=request.user_ids
            )
            result = await membership_queries.remove_texters(
                conn, campaign_id=row.id, user_ids=request.user_ids
            )
            await membership_queries.record_removal(
                conn,
                org_id=row.org_id,
                user_ids=request.user_ids,
                campaign_id=row.id,
                removed_by=caller.user_id,
            )
            unassigned = await unassign_held(
                conn, row.org_id, row.id, request.user_ids, caller.user_id
            )
            cancelled = await cancel_waiting(
                conn,
                row.org_id,
                request.user_ids,
                row.id,
                "removed_from_campaign",
                caller.user_id,
            )
        self._moved(unassigned, cancelled)
        return s.TextersChanged(changed=int(result.split()[-1]), unassigned=unassigned)

    async def remove_member(self, request: s.OrgMember, caller: Caller) -> s.MemberRemoved:
        async with self._pool.acquire() as conn, conn.transaction():
            current = await self._target(conn, caller, request.org_id, request.user_id)
            await _require_owner_for(conn, caller, request.org_id, current)
            await _keep_an_owner(conn, request.org_id, current, None)
            org_id, user_id = request.org_id, request.user_id
            await membership_queries.claim_locks(
                conn, org_id=org_id, campaign_id=None, user_ids=[user_id]
            )
            await membership_queries.leave_campaigns(conn, org_id=org_id, user_id=user_id)
            await membership_queries.remove_member(conn, org_id=org_id, user_id=user_id)
            await membership_queries.record_removal(
                conn, org_id=org_id, user_ids=[user_id], campaign_id=None, removed_by=caller.user_id
            )
            unassigned = await unassign_held(
                conn, request.org_id, None, [request.user_id], caller.user_id
            )
            cancelled = await cancel_waiting(
                conn,
                request.org_id,
                [request.user_id],
                None,
                "removed_from_organization",
                caller.user_id,
            )
        self._moved(unassigned, cancelled)
        return s.MemberRemoved(user_id=request.user_id, unassigned=unassigned)

    async def update_member(self, request: s.UpdateOrgMember, caller: Caller) -> s.OrgMemberView:
        role, level = request.role, request.request_level
        if role is msgspec.UNSET and level is msgspec.UNSET:
            raise bad_request("name a `role`, a `request_level`, or both")
        hidden = not_found("organization", request.org_id)
        cancelled = 0
        async with self._pool.acquire() as conn, conn.transaction():
            current = await self._target(conn, caller, request.org_id, request.user_id)
            if role is not msgspec.UNSET:
                await caller.role_in(conn, request.org_id, hidden, "admin")
                await _require_owner_for(conn, caller, request.org_id, current, role)
                await _keep_an_owner(conn, request.org_id, current, role)
                await membership_queries.set_role(
                    conn, org_id=request.org_id, user_id=request.user_id, role=role
                )
            if level is not msgspec.UNSET:
                # A moderator sets a texter's level only (issue #33); an admin anyone's.
                if current != "texter" and not allows(
                    await caller.role_in(conn, request.org_id, hidden), "admin"
                ):
                    raise forbidden("a moderator may change only a texter's request level")
                await approvals_queries.set_request_level(
                    conn, org_id=request.org_id, texter_id=request.user_id, level=level
                )
                # A request waits only at approval_required: at any other level it lost its
                # reason (issue #33, review finding 5).
                if level != "approval_required":
                    cancelled = await cancel_waiting(
                        conn,
                        request.org_id,
                        [request.user_id],
                        None,
                        "request_level_changed",
                        caller.user_id,
                        level,
                    )
            member = (await _members(conn, request.org_id, request.user_id))[0]
        self._moved(0, cancelled)
        return member

    async def list_members(self, request: s.ListOrgMembers, caller: Caller) -> s.OrgMembers:
        async with self._pool.acquire() as conn:
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            members = await _members(conn, request.org_id, request.user_id)
        return s.OrgMembers(org_id=request.org_id, members=members)

    async def _target(self, conn: Connection, caller: Caller, org_id: int, user_id: int) -> Role:
        """The organization locked, the caller's role checked, the target's role (locked)."""
        hidden = not_found("organization", org_id)
        if await assigner_queries.org_exists(conn, org_id=org_id) is None:
            raise hidden
        await caller.role_in(conn, org_id, hidden)
        role = await membership_queries.member_for_update(conn, org_id=org_id, user_id=user_id)
        if role is None:
            raise not_a_member([user_id], f"members of organization {org_id}")
        return as_role(role)

    def _moved(self, unassigned: int, cancelled: int) -> None:
        if unassigned:
            count_moves("unassign", unassigned)
        if unassigned or cancelled:
            self._publisher.nudge()  # the moves' and requests' events go out now


async def _require_owner_for(
    conn: Connection, caller: Caller, org_id: int, current: Role, new: Role | None = None
) -> None:
    """Making, demoting or removing an owner or an admin is an owner's call."""
    if current in OWNERS_CALL or new in OWNERS_CALL:
        await caller.role_in(conn, org_id, not_found("organization", org_id), "owner")


async def _keep_an_owner(conn: Connection, org_id: int, current: Role, new: Role | None) -> None:
    """The last owner stays an owner (`new` None: removed)."""
    if current != "owner" or new == "owner":
        return
    if await membership_queries.owner_count(conn, org_id=org_id) <= 1:
        raise BatonError(
            ErrorCode.CONFLICT,
            "this is the organization's last owner: make another owner first",
        )


async def _members(conn: Connection, org_id: int, user_id: int | None) -> list[s.OrgMemberView]:
    rows = await membership_queries.members(conn, org_id=org_id, user_id=user_id)
    # The role and request level as the view's types say them (the table's CHECKs admit no other).
    return [msgspec.convert(r, s.OrgMemberView, from_attributes=True) for r in rows]
