"""Group commit for initials claims: the claims of one campaign waiting at one moment share a
transaction and one claim statement (#17).

A claim arrives and waits in line (shared/runtime/batch_writers.py); a free writer takes the claims
of the first waiting one's campaign, one per texter, and in one transaction:
1. takes every texter's claim lock, in id order, and reads the campaign (one statement);
2. reads what each texter holds (one statement), and checks each texter's rules on it
   (claim_rules.py): a refused texter is answered alone and the others go on;
3. claims the rows for all the others at once and deals each their slice (claims.sql
   `claim_initials`: one index scan for the batch, where claims one by one each scan and skip the
   rows the others hold locked), refilling short slices from below the cursors;
4. writes one ConversationsAssigned event per texter to the outbox (one statement) and commits.

The guarantees are the single claim's, batch or not:
- Two clicks at once give one batch: a batch holds one claim per texter, the second waits for the
  next batch and is refused `initials_pending` there; two batches sharing a texter serialize on
  its lock.
- No conversation is ever held by two texters (SKIP LOCKED and move_conversations' holder guard).
- If the transaction fails, nothing of the batch happened and every claim of it gets the error.
  A crash after the commit and before the answers leaves batches the texters hold, which their
  next request finds (`initials_pending`, and the conversations are in their inbox).
- A texter whose slice came back empty hears what a lone claim would: `no_more_conversations`,
  `none_textable_now`, or, when every free row was locked by other claims, a new try a moment
  later (a few times, then `busy`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import asyncpg
import msgspec
from prometheus_client import Histogram

from services.assigner import claims_queries as q
from services.assigner.claim_cursor import ClaimCursor
from services.assigner.claim_rules import batch_size, claim_refusal, stranger_refusal
from services.assigner.empty_pool import LookAgain, empty_pool_verdict
from services.assigner.pool_floor import PoolFloorKeeper
from services.assigner.zone_groups import ZoneGroups
from shared.contract import catalogue as api
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, not_found
from shared.contract.schemas import assign as s
from shared.domain.clock import Clock
from shared.domain.texting_hours import CampaignHours
from shared.runtime import access_queries, failpoints, outbox
from shared.runtime.batch_writers import BatchWriters, fail_every, take_distinct
from shared.runtime.database import Connection

ASSIGNED_SUBJECT = api.CONVERSATIONS_ASSIGNED.subject
# Claims per transaction at most: bounds the rows one transaction locks (with the largest batch
# size, 32 x 1,000) and how long a texter's lock waits behind others'.
MAX_CLAIMS = 32
# When every Unassigned row is momentarily locked by other claims, look again this many times.
LOCKED_POOL_RETRIES = 5
LOCKED_POOL_PAUSE_SECONDS = 0.01
CLAIM_BATCH_SIZE = Histogram(
    "baton_claim_batch_size",
    "Initials claims committed together by the assigner's group commit.",
    buckets=(1, 2, 4, 8, 16, 32),
)


@dataclass
class _Claim:
    campaign_id: int
    texter_id: int
    reason: str
    tries: int = 0
    answer: asyncio.Future[list[int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


Outcome = list[int] | BatonError | LookAgain


class ClaimBatches:
    def __init__(
        self,
        pool: asyncpg.Pool,
        floors: PoolFloorKeeper,
        clock: Clock,
        on_assigned: Callable[[str, int], None],
        writers: int = 4,
    ) -> None:
        self._pool = pool
        self._floors = floors
        self._clock = clock
        # Called after each commit per claim answered with conversations: (reason, how many).
        self._on_assigned = on_assigned
        self._cursor = ClaimCursor()
        self._zone_groups = ZoneGroups()
        self._writers = BatchWriters(self._take, self._commit, writers)

    async def claim(self, campaign_id: int, texter_id: int, reason: str) -> list[int]:
        """The ids of the batch handed to `texter_id`, ascending; or the refusal, raised."""
        pending = _Claim(campaign_id, texter_id, reason)
        self._writers.submit(pending)
        # Shielded: a caller that gives up does not cancel the batch the claim is in.
        return await asyncio.shield(pending.answer)

    @staticmethod
    def _take(waiting: deque[_Claim]) -> list[_Claim]:
        """Up to MAX_CLAIMS waiting claims of the first one's campaign, one per texter."""
        campaign_id = waiting[0].campaign_id
        return take_distinct(
            waiting,
            MAX_CLAIMS,
            lambda claim: claim.texter_id,
            lambda claim: claim.campaign_id == campaign_id,
        )

    async def _commit(self, batch: list[_Claim]) -> None:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                outcomes = await self._apply(conn, batch)
        except Exception as exc:
            fail_every(batch, exc)
            return
        CLAIM_BATCH_SIZE.observe(len(batch))
        failpoints.reached("assigner:after_claim_batch_commit")
        emptied = False
        for pending, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, LookAgain):
                self._look_again(pending)
            elif isinstance(outcome, BatonError):
                emptied = emptied or outcome.code == ErrorCode.NO_MORE_CONVERSATIONS
                pending.answer.set_exception(outcome)
            else:
                self._on_assigned(pending.reason, len(outcome))
                pending.answer.set_result(outcome)
        if emptied:
            await self._floors.raise_after_empty(batch[0].campaign_id)

    def _look_again(self, pending: _Claim) -> None:
        pending.tries += 1
        if pending.tries >= LOCKED_POOL_RETRIES:
            pending.answer.set_exception(
                BatonError(
                    ErrorCode.BUSY, "Conversations are being handed out; try again in a moment"
                )
            )
            return
        loop = asyncio.get_running_loop()
        loop.call_later(LOCKED_POOL_PAUSE_SECONDS, self._writers.submit, pending)

    async def _apply(self, conn: Connection, batch: list[_Claim]) -> list[Outcome]:
        campaign_id = batch[0].campaign_id
        texters = sorted(p.texter_id for p in batch)
        campaign = await q.campaign_and_texter_locks(
            conn, campaign_id=campaign_id, texter_ids=texters
        )
        if campaign is None:
            return [not_found("campaign", campaign_id) for _ in batch]
        held = {
            r.user_id: r
            for r in await q.texters_pending(conn, campaign_id=campaign_id, texter_ids=texters)
        }
        outcomes: dict[int, Outcome] = {}
        claiming: list[int] = []
        for i, pending in enumerate(batch):
            texter = held[pending.texter_id]
            refusal = (
                stranger_refusal(
                    campaign,
                    await access_queries.member_role(
                        conn, org_id=campaign.org_id, user_id=pending.texter_id
                    ),
                )
                if not texter.is_texter
                else claim_refusal(campaign, texter, "initials")
            )
            if refusal is None:
                claiming.append(i)
            else:
                outcomes[i] = refusal
        if claiming:
            # Each texter's batch size: the campaign's, or their team's if smaller (issue #33).
            sizes = {
                i: batch_size(campaign, held[batch[i].texter_id], "initials") for i in claiming
            }
            outcomes.update(await self._claim_for(conn, campaign, batch, sizes))
        return [outcomes[i] for i in range(len(batch))]

    async def _claim_for(
        self,
        conn: Connection,
        campaign: q.CampaignAndTexterLocksRow,
        batch: list[_Claim],
        sizes: dict[int, int],
    ) -> dict[int, Outcome]:
        """Batches for the claims whose rules passed (indexes into `batch`, with the batch size
        of each)."""
        campaign_id, claiming = campaign.id, list(sizes)
        now, hours = self._clock(), CampaignHours.of_row(campaign)
        groups = list(campaign.zone_groups)
        floors = dict(zip(groups, campaign.pool_floors, strict=True))
        zones = await self._zone_groups.zones(conn, groups)
        open_groups = hours.open_groups(now, zones)
        self._floors.claimed_from(campaign_id)
        operations = {i: uuid.uuid4() for i in claiming}
        got: dict[int, list[int]] = {i: [] for i in claiming}
        # Nothing of a group is in the pool below its floor; the cursor is this process's hint
        # above it.
        after = [max(self._cursor.start(campaign_id, g), floors[g] - 1) for g in open_groups]
        await self._deal(conn, campaign_id, batch, got, sizes, open_groups, after, operations)
        if any(len(ids) < sizes[i] for i, ids in got.items()):
            # Below a cursor may be conversations returned to the pool: fill from there.
            below = [g for g, a in zip(open_groups, after, strict=True) if a > floors[g] - 1]
            floor_after = [floors[g] - 1 for g in below]
            await self._deal(conn, campaign_id, batch, got, sizes, below, floor_after, operations)
        outcomes: dict[int, Outcome] = {}
        events: list[tuple[str, str, bytes]] = []
        empty_verdict: Outcome | None = None
        for i, ids in got.items():
            if not ids:
                if empty_verdict is None:
                    empty_verdict = await empty_pool_verdict(
                        conn, "initials", campaign_id, hours, now
                    )
                outcomes[i] = empty_verdict
                continue
            ids.sort()
            outcomes[i] = ids
            event = s.ConversationsAssigned(
                operation_id=str(operations[i]),
                campaign_id=campaign_id,
                texter_id=batch[i].texter_id,
                reason=batch[i].reason,
                conversation_ids=ids,
            )
            events.append((ASSIGNED_SUBJECT, str(operations[i]), msgspec.json.encode(event)))
        await outbox.enqueue_many(conn, events)
        return outcomes

    async def _deal(
        self,
        conn: Connection,
        campaign_id: int,
        batch: list[_Claim],
        got: dict[int, list[int]],
        sizes: Mapping[int, int],
        groups: list[int],
        after: list[int],
        operations: Mapping[int, uuid.UUID],
    ) -> None:
        """One claim statement over `groups` from `after`, topping each slice in `got` up to
        its size, in the order the claims arrived."""
        short = [i for i in got if len(got[i]) < sizes[i]]
        if not groups or not short:
            return
        slots: list[int] = []
        for slot, i in enumerate(short, start=1):
            slots += [slot] * (sizes[i] - len(got[i]))
        rows = await q.claim_initials(
            conn,
            campaign_id=campaign_id,
            texter_ids=[batch[i].texter_id for i in short],
            size=len(slots),
            zone_groups=groups,
            after_ids=after,
            operations=[operations[i] for i in short],
            reasons=[batch[i].reason for i in short],
            slots=slots,
        )
        for row in rows:
            got[short[row.slot - 1]].append(row.id)
        self._cursor.advance(campaign_id, [(r.id, r.zone_group) for r in rows])
