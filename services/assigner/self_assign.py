"""The Request Conversations button (ThruText seeds 000/001, Spoke's dynamic assignment, 004).

One transaction per request: rule checks and the claim happen under a per-texter advisory lock,
so two clicks at once give one batch, and the claim itself is one statement with SKIP LOCKED, so
no conversation is ever held by two texters.

A batch holds only conversations that can be sent at once: those whose contact is inside the
campaign's texting hours now, with the closing margin still ahead (shared/texting_hours.py). The
claim walks only the zone groups open now (claims.sql); with nothing open while the pool still
holds conversations, the refusal is `none_textable_now`, with when the next ones open.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg
import msgspec
from prometheus_client import Counter

from services.assigner.claim_cursor import ClaimCursor
from services.assigner.named_queries import QUERIES
from services.assigner.pool_floor import PoolFloorKeeper
from services.assigner.zone_groups import ZoneGroups
from shared import catalogue as api
from shared import outbox
from shared.access import QUERIES as ACCESS_QUERIES
from shared.access import Caller
from shared.database import Connection
from shared.error_codes import ErrorCode
from shared.errors import BatonError, not_found
from shared.queries import load_queries
from shared.schemas import assign as s
from shared.texting_hours import CampaignHours, Opening, utc_now

CLAIMS = load_queries("services.assigner", "claims.sql")
ASSIGNED = Counter(
    "baton_conversations_assigned_total", "Conversations handed out.", ["kind", "reason"]
)
ASSIGNED_SUBJECT = api.CONVERSATIONS_ASSIGNED.subject
# When every Unassigned row is momentarily locked by other claims, look again this many times.
LOCKED_POOL_RETRIES = 5
# What an invite join answers as `first_batch_error` instead of failing the join.
FIRST_BATCH_REFUSALS = frozenset({
    ErrorCode.NO_MORE_CONVERSATIONS, ErrorCode.NONE_TEXTABLE_NOW, ErrorCode.INITIALS_PENDING,
    ErrorCode.REPLIES_PENDING, ErrorCode.SELF_ASSIGN_DISABLED, ErrorCode.CAMPAIGN_NOT_ACTIVE,
})  # fmt: skip


def when_open(opening: Opening | None) -> s.NextOpening | None:
    if opening is None:
        return None
    return s.NextOpening(
        opens_at=opening.at.isoformat().replace("+00:00", "Z"),
        zone=opening.zone,
        local_time=opening.local_time,
    )


def none_textable_now(opening: Opening | None) -> BatonError:
    when = when_open(opening)
    if when is None:
        return BatonError(
            ErrorCode.NONE_TEXTABLE_NOW,
            "No conversation left can be texted now, nor within a week: check the campaign's "
            "texting hours and fallback zone",
        )
    return BatonError(
        ErrorCode.NONE_TEXTABLE_NOW,
        f"No conversation can be texted now; the next ones open at {when.local_time} "
        f"{when.zone} time",
        msgspec.to_builtins(when),
    )


class SelfAssign:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: outbox.OutboxPublisher,
        floors: PoolFloorKeeper,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._cursor = ClaimCursor()
        self._floors = floors
        self._clock = clock
        self._zone_groups = ZoneGroups()

    async def request(self, request: s.RequestBatch, caller: Caller) -> s.Batch:
        ids = await self._assign(request.campaign_id, caller.user_id, request.kind, "self_assign")
        return s.Batch(conversation_ids=ids, count=len(ids))

    async def join(self, request: s.Join, caller: Caller) -> s.Joined:
        texter_id = caller.user_id
        async with self._pool.acquire() as conn, conn.transaction():
            invite = await conn.fetchrow(QUERIES["invite"], request.token)
            if invite is None or invite["revoked_at"] is not None:
                raise BatonError(ErrorCode.INVALID_INVITE, "This invite link is not valid any more")
            # The caller becomes a member of the organization if they were not already.
            role = await conn.fetchval(ACCESS_QUERIES["member_role"], invite["org_id"], texter_id)
            if role is None:
                if not await conn.fetchval(QUERIES["user_exists"], texter_id):
                    raise not_found("user", texter_id)
                await conn.execute(QUERIES["add_org_member"], invite["org_id"], texter_id, "texter")
            if invite["team_id"] is not None:
                await conn.execute(QUERIES["add_team_member"], invite["team_id"], texter_id)
            await conn.execute(QUERIES["add_texters"], invite["campaign_id"], [texter_id], "invite")
        # The first batch is requested for them (seed 000), in its own transaction.
        opening = None
        try:
            ids = await self._assign(invite["campaign_id"], texter_id, invite["kind"], "join")
            error = None
        except BatonError as exc:
            if exc.code not in FIRST_BATCH_REFUSALS:
                raise
            ids, error = [], exc.code
            if exc.code == ErrorCode.NONE_TEXTABLE_NOW and exc.details:
                opening = msgspec.convert(exc.details, s.NextOpening)
        return s.Joined(
            campaign_id=invite["campaign_id"], kind=invite["kind"], conversation_ids=ids,
            first_batch_error=error, next_opening=opening,
        )  # fmt: skip

    async def _assign(self, campaign_id: int, texter_id: int, kind: str, reason: str) -> list[int]:
        for _ in range(LOCKED_POOL_RETRIES):
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    ids = await self._claim_in_transaction(
                        conn, campaign_id, texter_id, kind, reason
                    )
            except BatonError as refusal:
                if refusal.code == ErrorCode.NO_MORE_CONVERSATIONS and kind == "initials":
                    await self._floors.raise_after_empty(campaign_id)
                raise
            if ids is not None:
                if ids:
                    self._publisher.nudge()
                ASSIGNED.labels(kind, reason).inc(len(ids))
                return ids
            await asyncio.sleep(0.01)  # every free row was locked by other claims: look again
        raise BatonError(
            ErrorCode.BUSY, "Conversations are being handed out; try again in a moment"
        )

    async def _claim_in_transaction(
        self, conn: Connection, campaign_id: int, texter_id: int, kind: str, reason: str
    ) -> list[int] | None:
        campaign = await conn.fetchrow(CLAIMS["campaign_and_texter_lock"], campaign_id, texter_id)
        if campaign is None:
            raise not_found("campaign", campaign_id)
        pending = await conn.fetchrow(CLAIMS["texter_pending"], campaign_id, texter_id)
        assert pending is not None
        # Who is asking comes before anything about the campaign: a texter on it is a member of
        # its organization; the organization is looked up only for those who are not.
        if not pending["is_texter"]:
            role = await conn.fetchval(ACCESS_QUERIES["member_role"], campaign["org_id"], texter_id)
            if role is None:
                raise not_found("campaign", campaign_id)  # a stranger learns nothing of it
            raise BatonError(ErrorCode.NOT_A_MEMBER, "You are not a texter on this campaign")
        if campaign["status"] != "active":
            raise BatonError(ErrorCode.CAMPAIGN_NOT_ACTIVE, "This campaign is not active")
        if not campaign["self_assign"]:
            raise BatonError(
                ErrorCode.SELF_ASSIGN_DISABLED, "Self assignment is not enabled for this campaign"
            )
        if kind == "initials":
            if pending["initials"]:
                raise BatonError(
                    ErrorCode.INITIALS_PENDING, "Send your initial messages before requesting more"
                )
            if campaign["require_replies_handled"] and pending["replies"]:
                raise BatonError(
                    ErrorCode.REPLIES_PENDING, "Answer your replies before requesting more"
                )
        elif pending["replies"]:
            raise BatonError(
                ErrorCode.REPLIES_PENDING, "Answer your replies before requesting more"
            )
        now, hours = self._clock(), CampaignHours.of(campaign)
        zones = await self._zone_groups.zones(conn, pending["zone_groups"])
        open_groups = hours.open_groups(now, zones)
        if kind == "initials":
            self._floors.claimed_from(campaign_id)
            floors = dict(zip(pending["zone_groups"], pending["pool_floors"], strict=True))
            rows = await self._claim_initials(
                conn, campaign, texter_id, reason, open_groups, floors
            )
            if not rows:
                await self._refuse_if_empty(conn, "pooled_initials_groups", campaign_id, hours, now)
                return None
            self._cursor.advance(campaign_id, [(r["id"], r["zone_group"]) for r in rows])
            return sorted(r["id"] for r in rows)
        rows = await self._claim(conn, "claim_replies", campaign_id, campaign["replies_batch_size"],
                                 texter_id, reason, open_groups)  # fmt: skip
        if not rows:
            await self._refuse_if_empty(conn, "pooled_replies_groups", campaign_id, hours, now)
            return None
        return [r["id"] for r in rows]

    async def _claim_initials(
        self, conn: Connection, campaign: asyncpg.Record, texter_id: int, reason: str,
        open_groups: list[int], floors: dict[int, int],
    ) -> list[asyncpg.Record]:  # fmt: skip
        """A batch from the open groups, each from its cursor; short, then from their floors."""
        campaign_id, size = campaign["id"], campaign["batch_size"]
        # Nothing of a group is in the pool below its floor; the cursor is this process's hint
        # above it.
        after = [max(self._cursor.start(campaign_id, g), floors[g] - 1) for g in open_groups]
        rows = await self._claim(conn, "claim_initials", campaign_id, size, texter_id, reason,
                                 open_groups, after)  # fmt: skip
        if len(rows) < size:
            # Below a cursor may be conversations returned to the pool: fill from there.
            below = [g for g, a in zip(open_groups, after, strict=True) if a > floors[g] - 1]
            floor_after = [floors[g] - 1 for g in below]
            rows += await self._claim(conn, "claim_initials", campaign_id, size - len(rows),
                                      texter_id, reason, below, floor_after)  # fmt: skip
        return rows

    async def _claim(
        self, conn: Connection, query: str, campaign_id: int, size: int, texter_id: int,
        reason: str, groups: list[int], *cursors: list[int],
    ) -> list[asyncpg.Record]:  # fmt: skip
        """One claim statement over the zone groups `groups` (initials: from `cursors`)."""
        if not groups:
            return []
        operation = uuid.uuid4()
        rows = await conn.fetch(
            CLAIMS[query], campaign_id, texter_id, size, groups, *cursors, operation, reason
        )
        ids = [r["id"] for r in rows]
        if ids:
            event = s.ConversationsAssigned(
                operation_id=str(operation), campaign_id=campaign_id, texter_id=texter_id,
                reason=reason, conversation_ids=ids,
            )  # fmt: skip
            await outbox.enqueue(conn, ASSIGNED_SUBJECT, str(operation), msgspec.json.encode(event))
        return rows

    async def _refuse_if_empty(
        self, conn: Connection, pooled_query: str, campaign_id: int, hours: CampaignHours,
        now: datetime,
    ) -> None:  # fmt: skip
        """No row came back. SKIP LOCKED returns nothing while rows exist but are locked by
        other claims: that is not an empty pool, and the caller looks again. Rows only in groups
        closed now are not an empty pool either: the texter hears when the next ones open."""
        pooled: list[Sequence[str]] = [
            r["zones"] for r in await conn.fetch(CLAIMS[pooled_query], campaign_id)
        ]
        if not pooled:
            raise BatonError(ErrorCode.NO_MORE_CONVERSATIONS, "No more conversations available")
        if any(hours.handed_out(now, zones) for zones in pooled):
            return
        raise none_textable_now(hours.next_opening(now, pooled))
