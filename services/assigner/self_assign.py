"""The Request Conversations button (ThruText seeds 000/001, Spoke's dynamic assignment, 004).

Rule checks and the claim happen in one transaction under a per-texter advisory lock, so two
clicks at once give one batch, and the claim itself is one statement with SKIP LOCKED, so no
conversation is ever held by two texters. Initials claims of one campaign waiting at the same
moment share that transaction and statement (claim_batches.py); a replies claim is its own.

A batch holds only conversations that can be sent at once: those whose contact is inside the
campaign's texting hours now, with the closing margin still ahead (shared/domain/texting_hours.py).
The claim walks only the zone groups open now (claims.sql); with nothing open while the pool still
holds conversations, the refusal is `none_textable_now`, with when the next ones open.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import msgspec
from prometheus_client import Counter

from services.assigner import claims_queries as claims
from services.assigner import queries as q
from services.assigner.approvals import Approvals
from services.assigner.campaign_pick import CampaignPick, enroll
from services.assigner.claim_batches import (
    LOCKED_POOL_PAUSE_SECONDS,
    LOCKED_POOL_RETRIES,
    ClaimBatches,
)
from services.assigner.claim_rules import batch_size, claim_refusal, stranger_refusal
from services.assigner.empty_pool import LookAgain, empty_pool_verdict
from services.assigner.pool_floor import PoolFloorKeeper
from services.assigner.zone_groups import ZoneGroups
from shared.contract import catalogue as api
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, not_found
from shared.contract.schemas import assign as s
from shared.domain.clock import Clock, utc_now
from shared.domain.texting_hours import CampaignHours
from shared.runtime import access_queries, outbox
from shared.runtime.access import Caller
from shared.runtime.database import Connection

ASSIGNED = Counter(
    "baton_conversations_assigned_total", "Conversations handed out.", ["kind", "reason"]
)
ASSIGNED_SUBJECT = api.CONVERSATIONS_ASSIGNED.subject
# What an invite join answers as `first_batch_error` instead of failing the join.
FIRST_BATCH_REFUSALS = frozenset(
    {
        ErrorCode.NO_MORE_CONVERSATIONS,
        ErrorCode.NONE_TEXTABLE_NOW,
        ErrorCode.INITIALS_PENDING,
        ErrorCode.REPLIES_PENDING,
        ErrorCode.SELF_ASSIGN_DISABLED,
        ErrorCode.CAMPAIGN_NOT_ACTIVE,
        ErrorCode.KIND_NOT_ALLOWED,
        ErrorCode.NOT_APPROVED,
        ErrorCode.REQUEST_PENDING,
    }
)
# A join's first batch that waits for a moderator (the member's level is approval_required).
PENDING_APPROVAL = "pending_approval"


def _batch_kind(kind: str) -> s.BatchKind:
    """An invite's kind: a batch kind (invite_link's CHECK allows no other)."""
    if kind == "initials":
        return "initials"
    if kind == "replies":
        return "replies"
    raise ValueError(f"invite of kind {kind!r}")


class SelfAssign:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: outbox.OutboxPublisher,
        floors: PoolFloorKeeper,
        clock: Clock = utc_now,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._floors = floors
        self._clock = clock
        self._zone_groups = ZoneGroups()
        self._initials = ClaimBatches(pool, floors, clock, self._assigned_initials)
        # Requests of texters whose level is not auto_approve (issue #33); `resolve` and `list`
        # are its subjects.
        self.approvals = Approvals(pool, publisher, self._assign)
        self._picks = CampaignPick(pool, clock)

    def _assigned_initials(self, reason: str, count: int) -> None:
        self._publisher.nudge()
        ASSIGNED.labels("initials", reason).inc(count)

    async def request(self, request: s.RequestBatch, caller: Caller) -> s.Batch:
        if request.campaign_id is not None:
            return await self._request(request, caller.user_id)
        # Naming none (issue #33): the campaign is picked. One drained between the pick and the
        # claim by requests at the same moment is passed over by one more pick, at most.
        picked = await self._picks.pick(caller.user_id, request.kind)
        try:
            return await self._request(
                s.RequestBatch(campaign_id=picked, kind=request.kind), caller.user_id, picked=True
            )
        except BatonError as refusal:
            if refusal.code != ErrorCode.NO_MORE_CONVERSATIONS:
                raise
        again = await self._picks.pick(caller.user_id, request.kind, frozenset({picked}))
        return await self._request(
            s.RequestBatch(campaign_id=again, kind=request.kind), caller.user_id, picked=True
        )

    async def _request(
        self, request: s.RequestBatch, texter_id: int, picked: bool = False
    ) -> s.Batch:
        campaign_id = request.campaign_id
        assert campaign_id is not None
        waiting = await self.approvals.gate(request, texter_id, picked)
        if waiting is not None:
            waiting.campaign_id = campaign_id
            return waiting
        if picked:  # enrolled only now their level lets the claim happen (an approval, later)
            async with self._pool.acquire() as conn:
                await enroll(conn, campaign_id, texter_id)
        ids = await self._assign(campaign_id, texter_id, request.kind, "self_assign")
        return s.Batch(conversation_ids=ids, count=len(ids), campaign_id=campaign_id)

    async def join(self, request: s.Join, caller: Caller) -> s.Joined:
        texter_id = caller.user_id
        async with self._pool.acquire() as conn, conn.transaction():
            invite = await q.invite(conn, token=request.token)
            if invite is None or invite.revoked_at is not None:
                raise BatonError(ErrorCode.INVALID_INVITE, "This invite link is not valid any more")
            # Someone taken out of the organization, or off this campaign, is not brought back
            # by a link: only an admin adds them again.
            kept_off = await q.kept_off(
                conn, org_id=invite.org_id, texter_id=texter_id, campaign_id=invite.campaign_id
            )
            if kept_off:
                raise BatonError(ErrorCode.INVALID_INVITE, "This invite link is not valid for you")
            # The caller becomes a member of the organization if they were not already.
            role = await access_queries.member_role(conn, org_id=invite.org_id, user_id=texter_id)
            if role is None:
                if not await q.user_exists(conn, user_id=texter_id):
                    raise not_found("user", texter_id)
                await q.add_org_member(conn, org_id=invite.org_id, user_id=texter_id, role="texter")
            if invite.team_id is not None:
                await q.add_team_member(conn, team_id=invite.team_id, user_id=texter_id)
            await q.add_texters(
                conn, campaign_id=invite.campaign_id, user_ids=[texter_id], source="invite"
            )
        # The first batch is requested for them (seed 000), in its own transaction, under the
        # member's request level exactly as baton.assign.request is (issue #33).
        joined = s.Joined(campaign_id=invite.campaign_id, kind=invite.kind, conversation_ids=[])
        first = s.RequestBatch(campaign_id=invite.campaign_id, kind=_batch_kind(invite.kind))
        try:
            waiting = await self.approvals.gate(first, texter_id)
            if waiting is not None:
                joined.first_batch_error, joined.request_id = PENDING_APPROVAL, waiting.request_id
                return joined
            joined.conversation_ids = await self._assign(
                invite.campaign_id, texter_id, invite.kind, "join"
            )
        except BatonError as exc:
            if exc.code not in FIRST_BATCH_REFUSALS:
                raise
            joined.first_batch_error = exc.code
            if exc.code == ErrorCode.NONE_TEXTABLE_NOW and exc.details:
                joined.next_opening = msgspec.convert(exc.details, s.NextOpening)
            if exc.code == ErrorCode.REQUEST_PENDING and exc.details:
                joined.request_id = exc.details.get("request_id")
        return joined

    async def _assign(self, campaign_id: int, texter_id: int, kind: str, reason: str) -> list[int]:
        if kind == "initials":
            return await self._initials.claim(campaign_id, texter_id, reason)
        for _ in range(LOCKED_POOL_RETRIES):
            async with self._pool.acquire() as conn, conn.transaction():
                ids = await self._claim_replies(conn, campaign_id, texter_id, reason)
            if ids is not None:
                if ids:
                    self._publisher.nudge()
                ASSIGNED.labels(kind, reason).inc(len(ids))
                return ids
            await asyncio.sleep(LOCKED_POOL_PAUSE_SECONDS)  # every free row was locked: again
        raise BatonError(
            ErrorCode.BUSY, "Conversations are being handed out; try again in a moment"
        )

    async def _claim_replies(
        self, conn: Connection, campaign_id: int, texter_id: int, reason: str
    ) -> list[int] | None:
        """A replies batch for one texter, in the calling transaction; None: look again."""
        texters = [texter_id]
        campaign = await claims.campaign_and_texter_locks(
            conn, campaign_id=campaign_id, texter_ids=texters
        )
        if campaign is None:
            raise not_found("campaign", campaign_id)
        (pending,) = await claims.texters_pending(conn, campaign_id=campaign_id, texter_ids=texters)
        refusal = (
            stranger_refusal(
                campaign,
                await access_queries.member_role(conn, org_id=campaign.org_id, user_id=texter_id),
            )
            if not pending.is_texter
            else claim_refusal(campaign, pending, "replies")
        )
        if refusal is not None:
            raise refusal
        now, hours = self._clock(), CampaignHours.of_row(campaign)
        groups = list(campaign.zone_groups)
        open_groups = hours.open_groups(now, await self._zone_groups.zones(conn, groups))
        rows: list[claims.ClaimRepliesRow] = []
        operation = uuid.uuid4()
        if open_groups:
            rows = await claims.claim_replies(
                conn,
                campaign_id=campaign_id,
                texter_id=texter_id,
                size=batch_size(campaign, pending, "replies"),
                open_groups=open_groups,
                operation=operation,
                reason=reason,
            )
        if not rows:
            verdict = await empty_pool_verdict(conn, "replies", campaign_id, hours, now)
            if isinstance(verdict, LookAgain):
                return None
            raise verdict
        ids = [r.id for r in rows]
        event = s.ConversationsAssigned(
            operation_id=str(operation),
            campaign_id=campaign_id,
            texter_id=texter_id,
            reason=reason,
            conversation_ids=ids,
        )
        await outbox.enqueue(conn, ASSIGNED_SUBJECT, str(operation), msgspec.json.encode(event))
        return ids
