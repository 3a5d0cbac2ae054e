"""What a claim that found nothing hears: empty, nothing open now, or look again.

SKIP LOCKED returns nothing while rows exist but are locked by other claims: that is not an
empty pool, and the claim looks again. Rows only in zone groups closed now are not an empty pool
either: the texter hears `none_textable_now`, with when the next ones open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import msgspec

from services.assigner import claims_queries as q
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError
from shared.contract.schemas import assign as s
from shared.domain.texting_hours import CampaignHours, Opening
from shared.runtime.database import Connection


class LookAgain:
    """Free rows exist, but every one was locked by other claims a moment ago."""


LOOK_AGAIN: Final = LookAgain()


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


async def empty_pool_verdict(
    conn: Connection, kind: s.BatchKind, campaign_id: int, hours: CampaignHours, now: datetime
) -> BatonError | LookAgain:
    """`kind`: the pool the claim found nothing in."""
    pooled: list[Sequence[str]] = [r.zones for r in await _pooled_groups(conn, kind, campaign_id)]
    if not pooled:
        return BatonError(ErrorCode.NO_MORE_CONVERSATIONS, "No more conversations available")
    if any(hours.handed_out(now, zones) for zones in pooled):
        return LOOK_AGAIN
    return none_textable_now(hours.next_opening(now, pooled))


async def _pooled_groups(
    conn: Connection, kind: s.BatchKind, campaign_id: int
) -> list[q.PooledInitialsGroupsRow] | list[q.PooledRepliesGroupsRow]:
    """The campaign's zone groups that still hold a row of the `kind` pool."""
    if kind == "initials":
        return await q.pooled_initials_groups(conn, campaign_id=campaign_id)
    return await q.pooled_replies_groups(conn, campaign_id=campaign_id)
