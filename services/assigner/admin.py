"""Campaign administration over NATS: organizations, people, teams, campaigns, invite links."""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec

from services.assigner.named_queries import QUERIES
from services.assigner.numbers import normalised, require_owned
from shared.contract.access_policy import Role
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, forbidden, not_a_member, not_found
from shared.contract.schemas import admin as s
from shared.contract.schemas import query as q
from shared.domain.text import storable
from shared.domain.texting_hours import zone_info
from shared.runtime.access import Caller
from shared.runtime.database import Connection

PRODUCT_DEFAULT_BATCH_SIZE = 300


def campaign_view(row: asyncpg.Record) -> s.Campaign:
    return s.Campaign(
        campaign_id=row["id"],
        org_id=row["org_id"],
        team_id=row["team_id"],
        team_ids=list(row["team_ids"]),
        title=row["title"],
        status=row["status"],
        self_assign=row["self_assign"],
        batch_size=row["batch_size"],
        replies_batch_size=row["replies_batch_size"],
        require_replies_handled=row["require_replies_handled"],
        release_unhandled_after_minutes=row["release_unhandled_after_minutes"],
        texting_hours=s.TexterHours(start=row["texting_hours_start"], end=row["texting_hours_end"]),
        sending_number=row["sending_number"],
        closing_margin_minutes=row["closing_margin_minutes"],
        fallback_zone=row["fallback_zone"],
    )


def _org_view(org: asyncpg.Record | Mapping[str, Any]) -> s.Org:
    return s.Org(
        org_id=org["id"],
        default_batch_size=org["default_batch_size"] or PRODUCT_DEFAULT_BATCH_SIZE,
        opt_out_confirmation=org["opt_out_confirmation"],
    )


async def fetch_campaign(
    conn: Connection, campaign_id: int, *, lock: bool = False
) -> asyncpg.Record:
    row = await conn.fetchrow(QUERIES["campaign_for_update" if lock else "campaign"], campaign_id)
    if row is None:
        raise not_found("campaign", campaign_id)
    return row


async def fetch_campaign_as(
    conn: Connection, caller: Caller, campaign_id: int, *, lock: bool = False
) -> asyncpg.Record:
    """The campaign, if the caller has the subject's role in its organization; to anyone else
    it does not exist."""
    row = await fetch_campaign(conn, campaign_id, lock=lock)
    await caller.role_in(conn, row["org_id"], not_found("campaign", campaign_id))
    return row


async def _team_as(conn: Connection, caller: Caller, team_id: int) -> asyncpg.Record:
    """The team, locked, if the caller has the subject's role in its organization; to anyone
    else it does not exist."""
    hidden = not_found("team", team_id)
    team = await conn.fetchrow(QUERIES["team_for_update"], team_id)
    if team is None:
        raise hidden
    await caller.role_in(conn, team["org_id"], hidden)
    return team


async def _teams_of(conn: Connection, org_id: int, team_ids: list[int]) -> list[int]:
    """`team_ids`, in order, without repeats, each a team of the organization (else the first
    that is not is `not_found`, as if it did not exist)."""
    wanted = list(dict.fromkeys(team_ids))
    found = {r["id"] for r in await conn.fetch(QUERIES["org_teams_named"], org_id, wanted)}
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
    strangers = [r["id"] for r in await conn.fetch(QUERIES["non_members"], org_id, user_ids)]
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
        org_id = await self._pool.fetchval(
            QUERIES["create_org"], request.name, request.default_batch_size
        )
        return s.OrgCreated(org_id=org_id)

    async def read_org(self, request: q.ReadOrg, caller: Caller) -> s.Org:
        async with self._pool.acquire() as conn:
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            org = await conn.fetchrow(QUERIES["org"], request.org_id)
        assert org is not None  # a member's organization exists: organizations are never deleted
        return _org_view(org)

    async def read_campaign(self, request: q.ReadCampaign, caller: Caller) -> s.Campaign:
        async with self._pool.acquire() as conn:
            row = await fetch_campaign(conn, request.campaign_id)
            role = await caller.role_in(conn, row["org_id"], not_found("campaign", row["id"]))
            # A texter's app shows the hours of the campaigns they text on, and only those.
            if role == "texter" and not await conn.fetchval(
                QUERIES["is_texter"], row["id"], caller.user_id
            ):
                raise BatonError(ErrorCode.NOT_A_MEMBER, "You are not a texter on this campaign")
            return campaign_view(row)

    async def update_org(self, request: s.UpdateOrg, caller: Caller) -> s.Org:
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            org = dict(await conn.fetchrow(QUERIES["org_for_update"], request.org_id) or {})
            wording = request.opt_out_confirmation
            if isinstance(wording, str) and (storable(wording) != wording or not wording.strip()):
                # It is texted to contacts as it is: no control characters, not blank.
                raise bad_request(
                    "opt_out_confirmation: a text without control characters, not blank",
                    field="opt_out_confirmation",
                )
            for field in ("default_batch_size", "opt_out_confirmation"):
                if (value := getattr(request, field)) is not msgspec.UNSET:
                    org[field] = value
            await conn.execute(
                QUERIES["save_org"],
                request.org_id,
                org["default_batch_size"],
                org["opt_out_confirmation"],
            )
        return _org_view(org)

    async def create_user(self, request: s.CreateUser, caller: Caller) -> s.UserCreated:
        hidden = not_found("organization", request.org_id)
        async with self._pool.acquire() as conn, conn.transaction():
            # Locking the organization makes "the first user becomes owner" race-free.
            if await conn.fetchval(QUERIES["org_exists"], request.org_id) is None:
                raise hidden
            role = request.role
            if caller.is_operator:
                if await conn.fetchval(QUERIES["org_member_count"], request.org_id):
                    raise forbidden("the operator creates only an organization's first user")
                role = "owner"
            else:
                needed: Role = "owner" if role in ("owner", "admin") else "admin"
                await caller.role_in(conn, request.org_id, hidden, needed)
            user_id = await conn.fetchval(QUERIES["create_user"], request.name)
            await conn.execute(QUERIES["add_org_member"], request.org_id, user_id, role)
        return s.UserCreated(user_id=user_id)

    async def create_team(self, request: s.CreateTeam, caller: Caller) -> s.TeamCreated:
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            team_id = await conn.fetchval(QUERIES["create_team"], request.org_id, request.name)
            if team_id is None:
                raise BatonError(
                    ErrorCode.CONFLICT, f"a team named {request.name!r} already exists"
                )
        return s.TeamCreated(team_id=team_id)

    async def update_team(self, request: s.UpdateTeam, caller: Caller) -> s.Team:
        async with self._pool.acquire() as conn, conn.transaction():
            team = await _team_as(conn, caller, request.team_id)
            given = {
                k: v for k, v in msgspec.structs.asdict(request).items() if v is not msgspec.UNSET
            }
            merged = {**dict(team), **given}
            saved = await conn.fetchrow(
                QUERIES["save_team"],
                team["id"],
                merged["assignment_priority"],
                merged["assignment_kind"],
                merged["max_request_size"],
            )
        assert saved is not None
        return s.Team(
            team_id=saved["id"],
            org_id=saved["org_id"],
            name=saved["name"],
            assignment_priority=saved["assignment_priority"],
            assignment_kind=saved["assignment_kind"],
            max_request_size=saved["max_request_size"],
        )

    async def add_team_members(self, request: s.AddTeamMembers, caller: Caller) -> s.TextersChanged:
        async with self._pool.acquire() as conn, conn.transaction():
            org_id = (await _team_as(conn, caller, request.team_id))["org_id"]
            await _require_members(conn, org_id, request.user_ids)
            result = await conn.execute(
                QUERIES["add_team_members"], request.team_id, request.user_ids
            )
        return s.TextersChanged(changed=int(result.split()[-1]))

    async def create_campaign(self, request: s.CreateCampaign, caller: Caller) -> s.CampaignCreated:
        hours = request.texting_hours or s.TexterHours(start=9, end=21)
        _check_hours(hours)
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            batch_size = await conn.fetchval(QUERIES["org_default_batch_size"], request.org_id)
            if request.team_ids is not None and request.team_id is not None:
                raise bad_request("give team_ids (team_id is its deprecated form), not both")
            teams = request.team_ids or ([request.team_id] if request.team_id else [])
            teams = await _teams_of(conn, request.org_id, teams)
            number = await self._sending_number(conn, request.org_id, request.sending_number)
            campaign_id = await conn.fetchval(
                QUERIES["create_campaign"],
                request.org_id,
                teams[0] if teams else None,
                request.title,
                batch_size,
                hours.start,
                hours.end,
                number,
            )
            await conn.execute(QUERIES["set_campaign_teams"], campaign_id, teams)
        return s.CampaignCreated(campaign_id=campaign_id, batch_size=batch_size)

    async def update_campaign(self, request: s.UpdateCampaign, caller: Caller) -> s.Campaign:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await fetch_campaign_as(conn, caller, request.campaign_id, lock=True)
            changes = {
                field: value
                for field in request.__struct_fields__
                if field != "campaign_id"
                and (value := getattr(request, field)) is not msgspec.UNSET
            }
            # Changing a campaign's state is an admin's call; its assignment settings a moderator's.
            if "status" in changes:
                await caller.role_in(conn, row["org_id"], not_found("campaign", row["id"]), "admin")
            if "team_ids" in changes:
                teams = await _teams_of(conn, row["org_id"], changes.pop("team_ids"))
                await conn.execute(QUERIES["set_campaign_teams"], row["id"], teams)
            current = dict(row)
            if "batch_size" in changes and changes["batch_size"] is None:
                changes["batch_size"] = await conn.fetchval(
                    QUERIES["org_default_batch_size"], row["org_id"]
                )
            if "texting_hours" in changes:
                hours = changes.pop("texting_hours")
                _check_hours(hours)
                changes["texting_hours_start"], changes["texting_hours_end"] = (
                    hours.start,
                    hours.end,
                )
            if "sending_number" in changes:
                changes["sending_number"] = await self._sending_number(
                    conn, row["org_id"], changes["sending_number"]
                )
            if changes.get("fallback_zone") is not None:
                _check_zone(changes["fallback_zone"])
            current.update(changes)
            _check_margin(
                current["texting_hours_start"],
                current["texting_hours_end"],
                current["closing_margin_minutes"],
            )
            await conn.execute(
                QUERIES["save_campaign"],
                row["id"],
                current["status"],
                current["self_assign"],
                current["batch_size"],
                current["replies_batch_size"],
                current["require_replies_handled"],
                current["release_unhandled_after_minutes"],
                current["texting_hours_start"],
                current["texting_hours_end"],
                current["sending_number"],
                current["closing_margin_minutes"],
                current["fallback_zone"],
            )
            return campaign_view(await fetch_campaign(conn, row["id"]))

    async def add_texters(self, request: s.CampaignTexters, caller: Caller) -> s.TextersChanged:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await fetch_campaign_as(conn, caller, request.campaign_id)
            await _require_members(conn, row["org_id"], request.user_ids)
            result = await conn.execute(
                QUERIES["add_texters"], row["id"], request.user_ids, "admin"
            )
            # An admin's choice: whoever was taken off this campaign may join it again.
            await conn.execute(QUERIES["clear_campaign_removals"], row["id"], request.user_ids)
        return s.TextersChanged(changed=int(result.split()[-1]))

    async def create_invite(self, request: s.CreateInvite, caller: Caller) -> s.InviteCreated:
        token = secrets.token_urlsafe(18)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await fetch_campaign_as(conn, caller, request.campaign_id)
            await conn.execute(
                QUERIES["create_invite"], token, row["id"], request.kind, caller.user_id
            )
        return s.InviteCreated(token=token)

    async def revoke_invite(self, request: s.RevokeInvite, caller: Caller) -> s.Revoked:
        hidden = not_found("invite link", "with that token")
        async with self._pool.acquire() as conn, conn.transaction():
            invite = await conn.fetchrow(QUERIES["invite"], request.token)
            if invite is None:
                raise hidden
            await caller.role_in(conn, invite["org_id"], hidden)
            result = await conn.execute(QUERIES["revoke_invite"], request.token)
        return s.Revoked(revoked=result.endswith("1"))
