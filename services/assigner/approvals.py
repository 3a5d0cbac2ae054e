"""Requests for conversations that wait for a moderator (issue #33, Spoke Rewired's assignment
requests).

Each membership has a request level. `auto_approve` (the default) is the Request Conversations
button as it always was. `do_not_approve` refuses the request (`not_approved`).
`approval_required` stores the request as waiting and answers ok with `pending_approval`: a
waiting request is not a failure. One request per texter and organization waits at a time (a
unique index), so a second is refused `request_pending`.

A moderator approves or rejects it. Approval commits first, then claims the batch through the
very claim a direct request makes (every rule: texting hours, initials pending, batch size, the
pool), then commits the outcome: `fulfilled` with the batch, or `unfulfilled` with the claim's
refusal. A crash between the two commits leaves the request `approved`; approving it again claims
then, and the claim rules refuse a texter who already holds a batch, so none is handed out twice.
Every transition is a row of `assignment_request_event` and an event on EVENTS.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal, cast

import asyncpg
import msgspec

from services.assigner import approvals_queries as q
from services.assigner.campaign_pick import enroll
from services.assigner.claim_rules import (
    CampaignState,
    campaign_refusal,
    kind_refusal,
    stranger_refusal,
)
from shared.contract import catalogue as api
from shared.contract.access_policy import allows
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, forbidden, not_found
from shared.contract.schemas import approvals as s
from shared.contract.schemas.assign import Batch, RequestBatch
from shared.domain.times import rfc3339
from shared.runtime import access_queries, outbox
from shared.runtime.access import Caller
from shared.runtime.database import Connection

# membership.py still indexes these (`set_request_level`); gone once it calls approvals_queries.
CHANGED = api.ASSIGNMENT_REQUEST_CHANGED
# (campaign id, texter id, kind, reason) -> the batch's conversation ids, or the refusal raised.
Claim = Callable[[int, int, str, str], Awaitable[list[int]]]
# Why a waiting request was cancelled (its `refusal`).
CancelReason = Literal[
    "request_level_changed", "removed_from_organization", "removed_from_campaign"
]
# What leaves an approved request approved, to be approved again: nothing was decided.
_TRY_AGAIN = frozenset({ErrorCode.BUSY, ErrorCode.UNAVAILABLE, ErrorCode.OVERLOADED})
# A request's row, as each query of approvals.sql returns it (all of assignment_request).
RequestRecord = (
    q.OpenRequestRow
    | q.RequestForUpdateRow
    | q.SetStatusRow
    | q.RequestsPageRow
    | q.CancelWaitingRow
)


class Approvals:
    def __init__(self, pool: asyncpg.Pool, publisher: outbox.OutboxPublisher, claim: Claim) -> None:
        self._pool = pool
        self._publisher = publisher
        self._claim = claim

    async def gate(
        self, request: RequestBatch, texter_id: int, picked: bool = False
    ) -> Batch | None:
        """None: claim now, as ever. Otherwise the `pending_approval` answer, or the refusal
        raised. A caller who is not a member, or no such campaign, goes on to the claim, which
        refuses them as it always has. `picked`: the campaign was picked for the caller
        (campaign_pick.py), who may text on it through a team without being enrolled yet."""
        assert request.campaign_id is not None, "a request naming none has its campaign picked"
        async with self._pool.acquire() as conn:
            gate = await q.request_gate(conn, campaign_id=request.campaign_id, texter_id=texter_id)
            if gate is None or gate.request_level in (None, "auto_approve"):
                return None
            # Who is asking and the campaign's state come first, as in a claim: nobody waits
            # for approval of a request no approval could make good.
            state = CampaignState(
                id=gate.id, org_id=gate.org_id, status=gate.status, self_assign=gate.self_assign
            )
            if not gate.is_texter and not picked:
                raise stranger_refusal(
                    state,
                    await access_queries.member_role(conn, org_id=state.org_id, user_id=texter_id),
                )
            refusal = campaign_refusal(state)
            if refusal is not None:
                raise refusal
            if gate.request_level == "do_not_approve":
                raise BatonError(
                    ErrorCode.NOT_APPROVED,
                    "Your requests for conversations are not approved in this organization; "
                    "a moderator assigns you conversations",
                )
            # What no approval could change is refused now, not queued to fail at approval
            # (a kind the team does not take, as self_assign_disabled above).
            refusal = kind_refusal(gate.team_assignment_kind, request.kind)
            if refusal is not None:
                raise refusal
            async with conn.transaction():
                opened = await q.open_request(
                    conn,
                    org_id=gate.org_id,
                    campaign_id=gate.id,
                    texter_id=texter_id,
                    kind=request.kind,
                )
                if opened is None:
                    waiting = await q.waiting_request(conn, org_id=gate.org_id, texter_id=texter_id)
                    raise BatonError(
                        ErrorCode.REQUEST_PENDING,
                        "Your earlier request still waits for a moderator's approval",
                        {"request_id": waiting},
                    )
                await _record(conn, opened, texter_id, None)
        self._publisher.nudge()
        return Batch(conversation_ids=[], count=0, status="pending_approval", request_id=opened.id)

    async def resolve(
        self, request: s.ResolveAssignmentRequest, caller: Caller
    ) -> s.AssignmentRequest:
        async with self._pool.acquire() as conn:
            await q.resolve_lock(conn, request_id=request.request_id)
            try:
                row: RequestRecord = await self._decide(conn, request, caller)
                if row.status == "approved":
                    row = await self._claim_approved(conn, row, caller.user_id)
            finally:
                await q.resolve_unlock(conn, request_id=request.request_id)
        self._publisher.nudge()
        return view(row)

    async def list_requests(
        self, request: s.ListAssignmentRequests, caller: Caller
    ) -> s.AssignmentRequests:
        async with self._pool.acquire() as conn:
            role = await caller.role_in(
                conn, request.org_id, not_found("organization", request.org_id)
            )
            # A texter sees their own requests only, whoever they name.
            texter_id = request.texter_id if allows(role, "moderator") else caller.user_id
            rows = await q.requests_page(
                conn,
                org_id=request.org_id,
                status=request.status,
                texter_id=texter_id,
                after_id=request.after_id,
                limit=request.limit + 1,
            )
        page = [view(r) for r in rows[: request.limit]]
        more = len(rows) > request.limit
        after = page[-1].request_id if more else None
        return s.AssignmentRequests(org_id=request.org_id, requests=page, next_after_id=after)

    async def _decide(
        self, conn: Connection, request: s.ResolveAssignmentRequest, caller: Caller
    ) -> q.RequestForUpdateRow | q.SetStatusRow:
        """The approval or rejection, committed (and the level, if one is set)."""
        hidden = not_found("assignment request", request.request_id)
        async with conn.transaction():
            row = await q.request_for_update(conn, request_id=request.request_id)
            if row is None:
                raise hidden
            role = await caller.role_in(conn, row.org_id, hidden)
            if request.request_level is not None:
                await _set_level(conn, row, role, request.request_level)
            if row.status == "approved" and request.approve:
                # Approved before, its claim never committed (a crash, `busy`): claim now.
                if request.request_level is not None:
                    await _record(conn, row, caller.user_id, request.request_level)
                return row
            if row.status != "pending":
                raise BatonError(
                    ErrorCode.CONFLICT,
                    f"this request was resolved already: it is {row.status}",
                    {"status": row.status},
                )
            status = "approved" if request.approve else "rejected"
            decided = await q.set_status(
                conn,
                request_id=row.id,
                from_status="pending",
                to_status=status,
                conversation_ids=[],
                refusal=None,
                resolved_by=caller.user_id,
                refusal_details=None,
            )
            assert decided is not None, "the row is locked, pending"
            await _record(conn, decided, caller.user_id, request.request_level)
            return decided

    async def _claim_approved(
        self, conn: Connection, row: RequestRecord, actor_id: int
    ) -> q.SetStatusRow:
        ids: list[int] = []
        refusal: str | None = None
        details: str | None = None  # the refusal's, as a direct request is told them (JSON)
        # A campaign picked for the texter enrolls them only now (through its teams, unless
        # taken off it since); one they text on already is left as it is.
        await enroll(conn, row.campaign_id, row.texter_id)
        try:
            ids = await self._claim(row.campaign_id, row.texter_id, row.kind, "self_assign")
        except BatonError as exc:
            if exc.code in _TRY_AGAIN:
                raise BatonError(
                    ErrorCode.BUSY,
                    "Approved, but conversations are being handed "
                    "out: approve it again in a moment to claim its batch",
                    {"request_id": row.id},
                ) from exc
            refusal = str(exc.code)
            details = msgspec.json.encode(exc.details).decode() if exc.details else None
        status = "fulfilled" if ids else "unfulfilled"
        async with conn.transaction():
            done = await q.set_status(
                conn,
                request_id=row.id,
                from_status="approved",
                to_status=status,
                conversation_ids=ids,
                refusal=refusal,
                resolved_by=None,
                refusal_details=details,
            )
            assert done is not None, "resolve_lock keeps every other resolver out"
            await _record(conn, done, actor_id, None)
        return done


async def cancel_waiting(
    conn: Connection,
    org_id: int,
    texter_ids: list[int],
    campaign_id: int | None,
    reason: CancelReason,
    actor_id: int,
    level: s.RequestLevel | None = None,
) -> int:
    """Close, in the caller's transaction, the waiting requests whose reason went away: the
    texters' level changed (`level`), or they were taken out of the organization or off
    `campaign_id`. Each is `cancelled`, logged and announced like every transition; a request
    being approved is past `pending` and is left to its approval."""
    rows = await q.cancel_waiting(
        conn,
        org_id=org_id,
        texter_ids=texter_ids,
        campaign_id=campaign_id,
        reason=reason,
        actor_id=actor_id,
    )
    for row in rows:
        await _record(conn, row, actor_id, level)
    return len(rows)


async def _set_level(conn: Connection, row: RequestRecord, role: str, level: str) -> None:
    """A moderator may set only a texter's level; an admin anyone's."""
    target = await access_queries.member_role(conn, org_id=row.org_id, user_id=row.texter_id)
    if target is None:
        raise BatonError(ErrorCode.CONFLICT, "the texter is no longer in this organization")
    if target != "texter" and not allows(role, "admin"):
        raise forbidden("a moderator may change only a texter's request level")
    await q.set_request_level(conn, org_id=row.org_id, texter_id=row.texter_id, level=level)


async def _record(
    conn: Connection, row: RequestRecord, actor_id: int | None, level: s.RequestLevel | None
) -> None:
    """The transition into `row`'s status: its event-log row and its event, in the caller's
    transaction."""
    event_id = await q.record_transition(
        conn, request_id=row.id, status=row.status, level=level, actor_id=actor_id
    )
    event = s.AssignmentRequestChanged(
        **msgspec.structs.asdict(view(row)), actor_id=actor_id, request_level=level
    )
    await outbox.enqueue(
        conn, CHANGED.subject, f"assignment_request:{event_id}", msgspec.json.encode(event)
    )


def view(row: RequestRecord) -> s.AssignmentRequest:
    return s.AssignmentRequest(
        request_id=row.id,
        org_id=row.org_id,
        campaign_id=row.campaign_id,
        texter_id=row.texter_id,
        kind=row.kind,
        # assignment_request_status_check keeps the column to RequestStatus's values.
        status=cast(s.RequestStatus, row.status),
        conversation_ids=list(row.conversation_ids),
        refusal=row.refusal,
        refusal_details=msgspec.json.decode(row.refusal_details)
        if row.refusal_details is not None
        else None,
        resolved_by=row.resolved_by,
        created_at=rfc3339(row.created_at),
        updated_at=rfc3339(row.updated_at),
    )
