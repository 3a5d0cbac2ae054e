"""Reassignment, every way ThruText moves conversations (seeds 002 and 003), each in one step.

Reassign Some / Reassign All / Unassign All, at campaign level (every sender's, or the
Unassigned ones) or sender level, filtered by status; and one conversation to one texter.
Each operation is one transaction: all of it happens or none, every move is in the event log
under one operation id, and one event per receiving texter is published through the outbox.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

import asyncpg
import msgspec
from prometheus_client import Counter as MetricCounter

from services.assigner import reassign_queries as q
from services.assigner.admin import fetch_campaign
from services.assigner.distribution import distribute
from shared.contract import catalogue as api
from shared.contract.access_policy import Role
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, not_a_member, not_found
from shared.contract.schemas import assign as s
from shared.domain.event_parts import numbered_parts
from shared.runtime import outbox
from shared.runtime.access import Caller
from shared.runtime.database import Connection

REASSIGNED = MetricCounter(
    "baton_conversations_reassigned_total", "Conversations moved by an admin.", ["reason"]
)
MOVED_SUBJECT = api.CONVERSATIONS_REASSIGNED.subject
# "Any" moves every conversation but the closed ones (opted out or finished): those stay put.
STATUSES = {
    "any": ["not_started", "awaiting_reply", "needs_reply", "replied"],
    "needs_reply": ["needs_reply"],
    "not_started": ["not_started"],
}
UNASSIGNED = "unassigned"
# The conversations a reassignment takes, locked: from one texter, from Unassigned, or from
# every sender (reassign.sql's source_* queries, which read the same columns).
Source = list[q.SourceOfTexterRow] | list[q.SourceUnassignedRow] | list[q.SourceEverySenderRow]


class Reassignment:
    def __init__(self, pool: asyncpg.Pool, publisher: outbox.OutboxPublisher) -> None:
        self._pool = pool
        self._publisher = publisher

    async def reassign(self, request: s.Reassign, caller: Caller) -> s.Reassigned:
        targets = list(dict.fromkeys(request.to_texter_ids))
        if request.from_unassigned and request.from_texter_id is not None:
            raise bad_request("give from_texter_id or from_unassigned, not both")
        if request.from_unassigned and not targets:
            raise bad_request("Unassigned conversations can only be reassigned to texters")
        if targets and request.from_texter_id is not None and targets == [request.from_texter_id]:
            raise bad_request("a texter's conversations cannot be reassigned to that same texter")
        if not targets and not request.confirm:
            raise BatonError(
                ErrorCode.CONFIRMATION_REQUIRED,
                "Unassigning empties these conversations into Unassigned; send confirm: true",
            )
        # Emptying every sender's inbox at once is an admin's call; the rest a moderator's.
        needed: Role | None = "admin" if not targets and request.from_texter_id is None else None
        reason = "reassign" if targets else "unassign"
        operation = uuid.uuid4()
        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await fetch_campaign(conn, request.campaign_id)
            hidden = not_found("campaign", request.campaign_id)
            await caller.role_in(conn, campaign.org_id, hidden, needed)
            await _require_texters(conn, campaign.id, targets)
            if _targets_hold_none_of_the_source(request, targets):
                received = await self._reassign_evenly(
                    conn, campaign.id, request, targets, operation, reason, caller.user_id
                )
                return self._reply(operation, reason, received)
            rows = await self._source(conn, request, targets)
            holders = [r.assignee_id for r in rows]
            new_holders: list[int | None] = (
                list(distribute(holders, targets)) if targets else [None] * len(rows)
            )
            moved = await self._apply(
                conn,
                campaign.id,
                operation,
                reason,
                caller.user_id,
                [r.id for r in rows],
                holders,
                new_holders,
            )
        return self._reply(operation, reason, _by_receiver(moved))

    async def move(self, request: s.Move, caller: Caller) -> s.Reassigned:
        operation = uuid.uuid4()
        reason = "move" if request.to_texter_id is not None else "unassign"
        async with self._pool.acquire() as conn, conn.transaction():
            hidden = not_found("conversation", request.conversation_id)
            row = await q.conversation_for_update(conn, conversation_id=request.conversation_id)
            if row is None:
                raise hidden
            campaign = await fetch_campaign(conn, row.campaign_id)
            await caller.role_in(conn, campaign.org_id, hidden)
            if request.to_texter_id is not None:
                await _require_texters(conn, campaign.id, [request.to_texter_id])
            if row.assignee_id == request.to_texter_id:
                return s.Reassigned(operation_id=str(operation), moved=0, per_texter={})
            moved = await self._apply(
                conn,
                campaign.id,
                operation,
                reason,
                caller.user_id,
                [row.id],
                [row.assignee_id],
                [request.to_texter_id],
            )
        return self._reply(operation, reason, _by_receiver(moved))

    async def release(self, request: s.Release, caller: Caller) -> s.Reassigned:
        """Done Texting: any member, and only of the caller's own replies."""
        operation = uuid.uuid4()
        texter_id = caller.user_id
        async with self._pool.acquire() as conn, conn.transaction():
            campaign_id = request.campaign_id
            await caller.campaign_role(conn, campaign_id)
            rows = await q.source_of_texter(
                conn,
                campaign_id=campaign_id,
                texter_id=texter_id,
                statuses=STATUSES["needs_reply"],
                limit=None,
            )
            moved = await self._apply(
                conn,
                campaign_id,
                operation,
                "done_texting",
                texter_id,
                [r.id for r in rows],
                [texter_id] * len(rows),
                [None] * len(rows),
            )
        return self._reply(operation, "done_texting", _by_receiver(moved))

    async def _source(self, conn: Connection, request: s.Reassign, targets: list[int]) -> Source:
        statuses = STATUSES[request.status]
        if request.from_texter_id is not None:
            return await q.source_of_texter(
                conn,
                campaign_id=request.campaign_id,
                texter_id=request.from_texter_id,
                statuses=statuses,
                limit=request.count,
            )
        if request.from_unassigned:
            return await q.source_unassigned(
                conn, campaign_id=request.campaign_id, statuses=statuses, limit=request.count
            )
        # A lone target keeps what it already holds; with several, theirs go to the others.
        keeps = targets[0] if len(targets) == 1 else None
        return await q.source_every_sender(
            conn,
            campaign_id=request.campaign_id,
            statuses=statuses,
            limit=request.count,
            keeps=keeps,
        )

    async def _reassign_evenly(
        self,
        conn: Connection,
        campaign_id: int,
        request: s.Reassign,
        targets: list[int],
        operation: uuid.UUID,
        reason: str,
        actor_id: int,
    ) -> dict[int | None, list[int]]:
        """Reassign All/Some or Unassign All in one statement (reassign.sql `reassign_evenly`)."""
        if request.from_texter_id is not None:
            source, holder = "texter", request.from_texter_id
        elif request.from_unassigned:
            source, holder = "unassigned", None
        else:  # a lone target keeps what it already holds
            source, holder = "every_sender", targets[0] if targets else None
        rows = await q.reassign_evenly(
            conn,
            campaign_id=campaign_id,
            statuses=STATUSES[request.status],
            source=source,
            holder=holder,
            limit=request.count,
            targets=targets,
            operation=operation,
            reason=reason,
            actor_id=actor_id,
        )
        received: dict[int | None, list[int]] = {r.to_id: list(r.ids) for r in rows}
        await _announce(conn, campaign_id, operation, reason, received)
        return received

    async def _apply(
        self,
        conn: Connection,
        campaign_id: int,
        operation: uuid.UUID,
        reason: str,
        actor_id: int,
        ids: list[int],
        holders: list[int | None],
        new_holders: list[int | None],
    ) -> list[q.ApplyMovesRow]:
        return await apply_moves(
            conn, campaign_id, operation, reason, actor_id, ids, holders, new_holders
        )

    def _reply(
        self, operation: uuid.UUID, reason: str, received: dict[int | None, list[int]]
    ) -> s.Reassigned:
        moved = sum(len(ids) for ids in received.values())
        if moved:
            self._publisher.nudge()
            REASSIGNED.labels(reason).inc(moved)
        per_texter = {_receiver(target): len(ids) for target, ids in received.items() if ids}
        return s.Reassigned(operation_id=str(operation), moved=moved, per_texter=per_texter)


async def apply_moves(
    conn: Connection,
    campaign_id: int,
    operation: uuid.UUID,
    reason: str,
    actor_id: int,
    ids: list[int],
    holders: list[int | None],
    new_holders: list[int | None],
) -> list[q.ApplyMovesRow]:
    """Move rows locked by the caller, log them, and enqueue their events."""
    moved = await q.apply_moves(
        conn,
        conversation_ids=ids,
        holders=holders,
        new_holders=new_holders,
        operation=operation,
        reason=reason,
        actor_id=actor_id,
    )
    await _announce(conn, campaign_id, operation, reason, _by_receiver(moved))
    return moved


async def unassign_held(
    conn: Connection, org_id: int, campaign_id: int | None, user_ids: list[int], actor_id: int
) -> int:
    """Return to Unassigned every conversation these people hold in the organization (or in one
    of its campaigns), closed ones aside, with one operation and its events per campaign, in the
    caller's transaction: someone taken off a campaign, or out of the organization, holds
    nothing there. Messages stay, so answered replies keep their history. How many moved."""
    rows = await q.held_by(
        conn, org_id=org_id, campaign_id=campaign_id, user_ids=user_ids, statuses=STATUSES["any"]
    )
    by_campaign: dict[int, list[q.HeldByRow]] = defaultdict(list)
    for row in rows:
        by_campaign[row.campaign_id].append(row)
    moved = 0
    for campaign, held in by_campaign.items():
        done = await apply_moves(
            conn,
            campaign,
            uuid.uuid4(),
            "unassign",
            actor_id,
            [r.id for r in held],
            [r.assignee_id for r in held],
            [None] * len(held),
        )
        moved += len(done)
    return moved


def count_moves(reason: str, moved: int) -> None:
    if moved:
        REASSIGNED.labels(reason).inc(moved)


def _receiver(target: int | None) -> str:
    return str(target) if target is not None else UNASSIGNED


def _by_receiver(moved: list[q.ApplyMovesRow]) -> dict[int | None, list[int]]:
    received: dict[int | None, list[int]] = defaultdict(list)
    for row in moved:
        received[row.to_id].append(row.id)
    return received


def _targets_hold_none_of_the_source(request: s.Reassign, targets: list[int]) -> bool:
    """Whether no conversation to move is held by a target, so that dealing them round-robin
    is the even split `distribute` would make (services/assigner/distribution.py)."""
    if request.from_unassigned or not targets:
        return True
    if request.from_texter_id is not None:
        return request.from_texter_id not in targets
    return len(targets) == 1  # every sender's, the lone target's own excepted (kept)


async def _announce(
    conn: Connection,
    campaign_id: int,
    operation: uuid.UUID,
    reason: str,
    received: dict[int | None, list[int]],
) -> None:
    """One event per receiving texter (or Unassigned), in parts (shared/domain/event_parts.py)."""
    await outbox.enqueue_many(
        conn,
        [
            (
                MOVED_SUBJECT,
                msg_id,
                msgspec.json.encode(
                    s.ConversationsMoved(
                        operation_id=str(operation),
                        campaign_id=campaign_id,
                        reason=reason,
                        to_texter_id=target,
                        conversation_ids=part,
                        part=n,
                        parts=parts,
                    )
                ),
            )
            for target, ids in received.items()
            if ids
            for msg_id, n, parts, part in numbered_parts(f"{operation}:{_receiver(target)}", ids)
        ],
    )


async def _require_texters(conn: Connection, campaign_id: int, user_ids: list[int]) -> None:
    if not user_ids:
        return
    strangers = [
        r.id for r in await q.non_texters(conn, campaign_id=campaign_id, user_ids=user_ids)
    ]
    if strangers:
        raise not_a_member(strangers, "texters of this campaign")
