"""The Request Conversations button (ThruText seeds 000/001, Spoke's dynamic assignment, 004).

One transaction per request: rule checks and the claim happen under a per-texter advisory lock,
so two clicks at once give one batch, and the claim itself is one statement with SKIP LOCKED, so
no conversation is ever held by two texters.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import msgspec
from prometheus_client import Counter

from services.assigner.admin import fetch_campaign
from services.assigner.claim_cursor import ClaimCursor
from services.assigner.named_queries import QUERIES
from services.assigner.pool_floor import PoolFloorKeeper
from shared import outbox
from shared.access import QUERIES as ACCESS_QUERIES
from shared.access import Caller
from shared.database import Connection
from shared.errors import BatonError, not_found
from shared.queries import load_queries
from shared.schemas import assign as s

CLAIMS = load_queries("services.assigner", "claims.sql")
ASSIGNED = Counter(
    "baton_conversations_assigned_total", "Conversations handed out.", ["kind", "reason"]
)
ASSIGNED_SUBJECT = "baton.events.conversation.assigned"
# When every Unassigned row is momentarily locked by other claims, look again this many times.
LOCKED_POOL_RETRIES = 5


class SelfAssign:
    def __init__(
        self, pool: asyncpg.Pool, publisher: outbox.OutboxPublisher, floors: PoolFloorKeeper
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._cursor = ClaimCursor()
        self._floors = floors

    async def request(self, request: s.RequestBatch, caller: Caller) -> s.Batch:
        ids = await self._assign(request.campaign_id, caller.user_id, request.kind, "self_assign")
        return s.Batch(conversation_ids=ids, count=len(ids))

    async def join(self, request: s.Join, caller: Caller) -> s.Joined:
        texter_id = caller.user_id
        async with self._pool.acquire() as conn, conn.transaction():
            invite = await conn.fetchrow(QUERIES["invite"], request.token)
            if invite is None or invite["revoked_at"] is not None:
                raise BatonError("invalid_invite", "This invite link is not valid any more")
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
        try:
            ids = await self._assign(invite["campaign_id"], texter_id, invite["kind"], "join")
            error = None
        except BatonError as exc:
            if exc.code not in ("no_more_conversations", "initials_pending", "replies_pending",
                                "self_assign_disabled", "campaign_not_active"):  # fmt: skip
                raise
            ids, error = [], exc.code
        return s.Joined(
            campaign_id=invite["campaign_id"], kind=invite["kind"], conversation_ids=ids,
            first_batch_error=error,
        )  # fmt: skip

    async def _assign(self, campaign_id: int, texter_id: int, kind: str, reason: str) -> list[int]:
        for _ in range(LOCKED_POOL_RETRIES):
            async with self._pool.acquire() as conn, conn.transaction():
                ids = await self._claim_in_transaction(conn, campaign_id, texter_id, kind, reason)
            if ids is not None:
                if ids:
                    self._publisher.nudge()
                ASSIGNED.labels(kind, reason).inc(len(ids))
                return ids
            await asyncio.sleep(0.01)  # every free row was locked by other claims: look again
        raise BatonError("busy", "Conversations are being handed out; try again in a moment")

    async def _claim_in_transaction(
        self, conn: Connection, campaign_id: int, texter_id: int, kind: str, reason: str
    ) -> list[int] | None:
        campaign = await fetch_campaign(conn, campaign_id)
        # Who is asking comes before anything about the campaign: a texter on it is a member of
        # its organization; the organization is looked up only for those who are not.
        if not await conn.fetchval(QUERIES["is_texter"], campaign_id, texter_id):
            role = await conn.fetchval(ACCESS_QUERIES["member_role"], campaign["org_id"], texter_id)
            if role is None:
                raise not_found("campaign", campaign_id)  # a stranger learns nothing of it
            raise BatonError("not_a_member", "You are not a texter on this campaign")
        if campaign["status"] != "active":
            raise BatonError("campaign_not_active", "This campaign is not active")
        if not campaign["self_assign"]:
            raise BatonError(
                "self_assign_disabled", "Self assignment is not enabled for this campaign"
            )
        await conn.execute(CLAIMS["texter_lock"], campaign_id, texter_id)
        pending = await conn.fetchrow(CLAIMS["texter_pending"], campaign_id, texter_id)
        assert pending is not None
        if kind == "initials":
            if pending["initials"]:
                raise BatonError(
                    "initials_pending", "Send your initial messages before requesting more"
                )
            if campaign["require_replies_handled"] and pending["replies"]:
                raise BatonError("replies_pending", "Answer your replies before requesting more")
            self._floors.claimed_from(campaign_id)
            # Nothing is in the pool below its floor; the cursor is this process's hint above it.
            floor = campaign["pool_floor_id"]
            size, after = campaign["batch_size"], max(self._cursor.start(campaign_id), floor - 1)
            ids = await self._claim(
                conn, "claim_initials", campaign_id, size, texter_id, reason, after
            )
            if len(ids) < size and after > floor - 1:
                # Below the cursor may be conversations returned to the pool: fill from there.
                ids += await self._claim(conn, "claim_initials", campaign_id, size - len(ids),
                                         texter_id, reason, floor - 1)  # fmt: skip
            if not ids:
                await self._refuse_if_empty(conn, "pool_has_initials", campaign_id, floor)
                return None
            self._cursor.advance(campaign_id, sorted(ids))
            return sorted(ids)
        if pending["replies"]:
            raise BatonError("replies_pending", "Answer your replies before requesting more")
        ids = await self._claim(conn, "claim_replies", campaign_id, campaign["replies_batch_size"],
                                texter_id, reason, None)  # fmt: skip
        if not ids:
            await self._refuse_if_empty(conn, "pool_has_replies", campaign_id)
            return None
        return ids

    async def _claim(
        self, conn: Connection, query: str, campaign_id: int, size: int, texter_id: int,
        reason: str, after: int | None,
    ) -> list[int]:  # fmt: skip
        """One claim statement; `after` is the claim cursor (initials pool only)."""
        operation = uuid.uuid4()
        cursor = () if after is None else (after,)
        rows = await conn.fetch(
            CLAIMS[query], campaign_id, texter_id, size, *cursor, operation, reason
        )
        ids = [r["id"] for r in rows]
        if ids:
            event = s.ConversationsAssigned(
                operation_id=str(operation), campaign_id=campaign_id, texter_id=texter_id,
                reason=reason, conversation_ids=ids,
            )  # fmt: skip
            await outbox.enqueue(conn, ASSIGNED_SUBJECT, str(operation), msgspec.json.encode(event))
        return ids

    async def _refuse_if_empty(
        self, conn: Connection, exists_query: str, campaign_id: int, *floor: int
    ) -> None:
        """No row came back. SKIP LOCKED returns nothing while rows exist but are locked by
        other claims: that is not an empty pool, and the caller looks again."""
        if not await conn.fetchval(CLAIMS[exists_query], campaign_id, *floor):
            raise BatonError("no_more_conversations", "No more conversations available")
