"""Campaign administration over NATS: organizations, people, teams, campaigns, invite links."""

from __future__ import annotations

import secrets
import zoneinfo
from typing import TypeVar

import asyncpg
import msgspec

from services.assigner import queries as q
from services.assigner.numbers import normalised, require_owned
from shared.contract.access_policy import Role
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, forbidden, not_a_member, not_found
from shared.contract.schemas import admin as s
from shared.contract.schemas import query
from shared.domain.text import storable
from shared.domain.texting_hours import zone_info
from shared.runtime.access import Caller
from shared.runtime.database import Connection

PRODUCT_DEFAULT_BATCH_SIZE = 300
T = TypeVar("T")


class StoredCampaign(q.CampaignRow, frozen=True):
    """A campaign's row as `fetch_campaign` gives it to the assigner's modules, locked or not
    (queries.sql `campaign` and `campaign_for_update` read the same columns)."""

    @classmethod
    def of(cls, row: q.CampaignRow | q.CampaignForUpdateRow) -> StoredCampaign:
        return cls(**msgspec.structs.asdict(row))


def campaign_view(row: StoredCampaign) -> s.Campaign:
    return s.Campaign(
        campaign_id=row.id,
        org_id=row.org_id,
        team_id=row.team_id,
        team_ids=list(row.team_ids),
        title=row.title,
        status=row.status,
        self_assign=row.self_assign,
        batch_size=row.batch_size,
        replies_batch_size=row.replies_batch_size,
        require_replies_handled=row.require_replies_handled,
        release_unhandled_after_minutes=row.release_unhandled_after_minutes,
        texting_hours=s.TexterHours(start=row.texting_hours_start, end=row.texting_hours_end),
        sending_number=row.sending_number,
        closing_margin_minutes=row.closing_margin_minutes,
        fallback_zone=row.fallback_zone,
    )


def _org_view(org: q.OrgRow | q.OrgForUpdateRow) -> s.Org:
    return s.Org(
        org_id=org.id,
        default_batch_size=org.default_batch_size or PRODUCT_DEFAULT_BATCH_SIZE,
        opt_out_confirmation=org.opt_out_confirmation,
    )


def _given(value: T | msgspec.UnsetType, current: T) -> T:
    """A request's field where it is set, else the stored value."""
    return current if isinstance(value, msgspec.UnsetType) else value


async def fetch_campaign(
    conn: Connection, campaign_id: int, *, lock: bool = False
) -> StoredCampaign:
    if lock:
        row: q.CampaignRow | q.CampaignForUpdateRow | None = await q.campaign_for_update(
            conn, campaign_id=campaign_id
        )
    else:
        row = await q.campaign(conn, campaign_id=campaign_id)
    if row is None:
        raise not_found("campaign", campaign_id)
    return StoredCampaign.of(row)


async def fetch_campaign_as(
    conn: Connection, caller: Caller, campaign_id: int, *, lock: bool = False
) -> StoredCampaign:
    """The campaign, if the caller has the subject's role in its organization; to anyone else
    it does not exist."""
    row = await fetch_campaign(conn, campaign_id, lock=lock)
    await caller.role_in(conn, row.org_id, not_found("campaign", campaign_id))
    return row


async def _team_as(conn: Connection, caller: Caller, team_id: int) -> q.TeamForUpdateRow:
    """The team, locked, if the caller has the subject's role in its organization; to anyone
    else it does not exist."""
    hidden = not_found("team", team_id)
    team = await q.team_for_update(conn, team_id=team_id)
    if team is None:
        raise hidden
    await caller.role_in(conn, team.org_id, hidden)
    return team


async def _teams_of(conn: Connection, org_id: int, team_ids: list[int]) -> list[int]:
    """`team_ids`, in order, without repeats, each a team of the organization (else the first
    that is not is `not_found`, as if it did not exist)."""
    wanted = list(dict.fromkeys(team_ids))
    found = {r.id for r in await q.org_teams_named(conn, org_id=org_id, names=wanted)}
    for team_id in wanted:
        if team_id not in found:
            raise not_found("team", team_id)
    return wanted


def _check_hours(hours: s.TexterHours) -> None:
    if not (0 <= hours.start < hours.end <= 24):
        raise bad_request("texting_hours: start must be before end, both within 0..24")


def _check_margin(start: int, end: int, margin_minutes: int) -> None:
    """A margin as long as the hours would hand nothing out, ever (midnight to midnight never
    closes, so any margin is fine there)."""
    if (start, end) != (0, 24) and margin_minutes >= (end - start) * 60:
        raise bad_request(
            "closing_margin_minutes must be shorter than the texting hours",
            field="closing_margin_minutes",
        )


def _check_zone(name: str) -> None:
    try:
        zone_info(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise bad_request(
            f"fallback_zone: {name!r} is not an IANA time zone", field="fallback_zone"
        ) from None


async def _require_members(conn: Connection, org_id: int, user_ids: list[int]) -> None:
    strangers = [r.id for r in await q.non_members(conn, org_id=org_id, user_ids=user_ids)]
    if strangers:
        raise not_a_member(strangers, f"members of organization {org_id}")


class Admin:
    def __init__(self, pool: asyncpg.Pool, default_region: str = "US") -> None:
        self._pool = pool
        self._region = default_region

    async def _sending_number(self, conn: Connection, org_id: int, raw: str | None) -> str | None:
        if raw is None:
            return None
        number = normalised(raw, self._region, "sending_number")
        await require_owned(conn, org_id, number)
        return number

    async def create_org(self, request: s.CreateOrg, caller: Caller) -> s.OrgCreated:
        org_id = await q.create_org(
            self._pool, name=request.name, default_batch_size=request.default_batch_size
        )
        return s.OrgCreated(org_id=org_id)

    async def read_org(self, request: query.ReadOrg, caller: Caller) -> s.Org:
        async with self._pool.acquire() as conn:
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            # A member's organization exists: organizations are never deleted.
            org = await q.org(conn, org_id=request.org_id)
        return _org_view(org)

    async def read_campaign(self, request: query.ReadCampaign, caller: Caller) -> s.Campaign:
        async with self._pool.acquire() as conn:
            row = await fetch_campaign(conn, request.campaign_id)
            role = await caller.role_in(conn, row.org_id, not_found("campaign", row.id))
            # A texter's app shows the hours of the campaigns they text on, and only those.
            if role == "texter" and not await q.is_texter(
                conn, campaign_id=row.id, user_id=caller.user_id
            ):
                raise BatonError(ErrorCode.NOT_A_MEMBER, "You are not a texter on this campaign")
            return campaign_view(row)

    async def update_org(self, request: s.UpdateOrg, caller: Caller) -> s.Org:
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            org = await q.org_for_update(conn, org_id=request.org_id)
            wording = request.opt_out_confirmation
            if isinstance(wording, str) and (storable(wording) != wording or not wording.strip()):
                # It is texted to contacts as it is: no control characters, not blank.
                raise bad_request(
                    "opt_out_confirmation: a text without control characters, not blank",
                    field="opt_out_confirmation",
                )
            org = msgspec.structs.replace(
                org,
                default_batch_size=_given(request.default_batch_size, org.default_batch_size),
                opt_out_confirmation=_given(wording, org.opt_out_confirmation),
            )
            await q.save_org(
                conn,
                org_id=request.org_id,
                default_batch_size=org.default_batch_size,
                opt_out_confirmation=org.opt_out_confirmation,
            )
        return _org_view(org)

    async def create_user(self, request: s.CreateUser, caller: Caller) -> s.UserCreated:
        hidden = not_found("organization", request.org_id)
        async with self._pool.acquire() as conn, conn.transaction():
            # Locking the organization makes "the first user becomes owner" race-free.
            if await q.org_exists(conn, org_id=request.org_id) is None:
                raise hidden
            role = request.role
            if caller.is_operator:
                if await q.org_member_count(conn, org_id=request.org_id):
                    raise forbidden("the operator creates only an organization's first user")
                role = "owner"
            else:
                needed: Role = "owner" if role in ("owner", "admin") else "admin"
                await caller.role_in(conn, request.org_id, hidden, needed)
            user_id = await q.create_user(conn, name=request.name)
            await q.add_org_member(conn, org_id=request.org_id, user_id=user_id, role=role)
        return s.UserCreated(user_id=user_id)

    async def create_team(self, request: s.CreateTeam, caller: Caller) -> s.TeamCreated:
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            team_id = await q.create_team(conn, org_id=request.org_id, name=request.name)
            if team_id is None:
                raise BatonError(
                    ErrorCode.CONFLICT, f"a team named {request.name!r} already exists"
                )
        return s.TeamCreated(team_id=team_id)

    async def update_team(self, request: s.UpdateTeam, caller: Caller) -> s.Team:
        async with self._pool.acquire() as conn, conn.transaction():
            team = await _team_as(conn, caller, request.team_id)
            saved = await q.save_team(
                conn,
                team_id=team.id,
                assignment_priority=_given(request.assignment_priority, team.assignment_priority),
                assignment_kind=_given(request.assignment_kind, team.assignment_kind),
                max_request_size=_given(request.max_request_size, team.max_request_size),
            )
        return s.Team(
            team_id=saved.id,
            org_id=saved.org_id,
            name=saved.name,
            assignment_priority=saved.assignment_priority,
            # As the view's type says it (the table's CHECK admits no other).
            assignment_kind=msgspec.convert(saved.assignment_kind, s.AssignmentKind),
            max_request_size=saved.max_request_size,
        )

    async def add_team_members(self, request: s.AddTeamMembers, caller: Caller) -> s.TextersChanged:
        async with self._pool.acquire() as conn, conn.transaction():
            org_id = (await _team_as(conn, caller, request.team_id)).org_id
            await _require_members(conn, org_id, request.user_ids)
            result = await q.add_team_members(
                conn, team_id=request.team_id, user_ids=request.user_ids
            )
        return s.TextersChanged(changed=int(result.split()[-1]))

    async def create_campaign(self, request: s.CreateCampaign, caller: Caller) -> s.CampaignCreated:
        hours = request.texting_hours or s.TexterHours(start=9, end=21)
        _check_hours(hours)
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            batch_size = await q.org_default_batch_size(conn, org_id=request.org_id)
            if request.team_ids is not None and request.team_id is not None:
                raise bad_request("give team_ids (team_id is its deprecated form), not both")
            teams = request.team_ids or ([request.team_id] if request.team_id else [])
            teams = await _teams_of(conn, request.org_id, teams)
            number = await self._sending_number(conn, request.org_id, request.sending_number)
            campaign_id = await q.create_campaign(
                conn,
                org_id=request.org_id,
                team_id=teams[0] if teams else None,
                title=request.title,
                batch_size=batch_size,
                texting_hours_start=hours.start,
                texting_hours_end=hours.end,
                sending_number=number,
            )
            await q.set_campaign_teams(conn, campaign_id=campaign_id, team_ids=teams)
        return s.CampaignCreated(campaign_id=campaign_id, batch_size=batch_size)

    async def update_campaign(self, request: s.UpdateCampaign, caller: Caller) -> s.Campaign:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await fetch_campaign_as(conn, caller, request.campaign_id, lock=True)
            # Changing a campaign's state is an admin's call; its assignment settings a moderator's.
            if not isinstance(request.status, msgspec.UnsetType):
                await caller.role_in(conn, row.org_id, not_found("campaign", row.id), "admin")
            if not isinstance(request.team_ids, msgspec.UnsetType):
                teams = await _teams_of(conn, row.org_id, request.team_ids)
                await q.set_campaign_teams(conn, campaign_id=row.id, team_ids=teams)
            batch_size = _given(request.batch_size, row.batch_size)
            if batch_size is None:  # back to the organization's current default
                batch_size = await q.org_default_batch_size(conn, org_id=row.org_id)
            start, end = row.texting_hours_start, row.texting_hours_end
            if not isinstance(request.texting_hours, msgspec.UnsetType):
                _check_hours(request.texting_hours)
                start, end = request.texting_hours.start, request.texting_hours.end
            number = row.sending_number
            if not isinstance(request.sending_number, msgspec.UnsetType):
                number = await self._sending_number(conn, row.org_id, request.sending_number)
            if isinstance(request.fallback_zone, str):
                _check_zone(request.fallback_zone)
            margin = _given(request.closing_margin_minutes, row.closing_margin_minutes)
            _check_margin(start, end, margin)
            await q.save_campaign(
                conn,
                campaign_id=row.id,
                status=_given(request.status, row.status),
                self_assign=_given(request.self_assign, row.self_assign),
                batch_size=batch_size,
                replies_batch_size=_given(request.replies_batch_size, row.replies_batch_size),
                require_replies_handled=_given(
                    request.require_replies_handled, row.require_replies_handled
                ),
                release_unhandled_after_minutes=_given(
                    request.release_unhandled_after_minutes, row.release_unhandled_after_minutes
                ),
                texting_hours_start=start,
                texting_hours_end=end,
                sending_number=number,
                closing_margin_minutes=margin,
                fallback_zone=_given(request.fallback_zone, row.fallback_zone),
            )
            return campaign_view(await fetch_campaign(conn, row.id))

    async def add_texters(self, request: s.CampaignTexters, caller: Caller) -> s.TextersChanged:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await fetch_campaign_as(conn, caller, request.campaign_id)
            await _require_members(conn, row.org_id, request.user_ids)
            result = await q.add_texters(
                conn, campaign_id=row.id, user_ids=request.user_ids, source="admin"
            )
            # An admin's choice: whoever was taken off this campaign may join it again.
            await q.clear_campaign_removals(conn, campaign_id=row.id, user_ids=request.user_ids)
        return s.TextersChanged(changed=int(result.split()[-1]))

    async def create_invite(self, request: s.CreateInvite, caller: Caller) -> s.InviteCreated:
        token = secrets.token_urlsafe(18)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await fetch_campaign_as(conn, caller, request.campaign_id)
            await q.create_invite(
                conn, token=token, campaign_id=row.id, kind=request.kind, created_by=caller.user_id
            )
        return s.InviteCreated(token=token)

    async def revoke_invite(self, request: s.RevokeInvite, caller: Caller) -> s.Revoked:
        hidden = not_found("invite link", "with that token")
        async with self._pool.acquire() as conn, conn.transaction():
            invite = await q.invite(conn, token=request.token)
            if invite is None:
                raise hidden
            await caller.role_in(conn, invite.org_id, hidden)
            result = await q.revoke_invite(conn, token=request.token)
        return s.Revoked(revoked=result.endswith("1"))
