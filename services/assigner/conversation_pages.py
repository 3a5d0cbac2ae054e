"""The one place that picks a page's statement from the filters given.

One statement with optional filters (`$3 IS NULL OR assignee_id = $3`) lets Postgres cache a
generic plan that cannot use the index its filter needs: after a few executions it walked the
whole primary key for a texter with nothing to return (issue 29). So each filter shape has its
own named query (queries.sql), whose equalities name its index. A moderator's view of the whole
campaign by status has its own too (its index, migration 0022, is ordered by id within a status);
on a holder's or the Unassigned ones, the status only narrows what their index gives, and stays a
bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from services.assigner import queries as q
from shared.runtime.query_executor import Executor, statement_of

# A page's rows: the five page_of_* queries read the same columns.
PageRow = (
    q.PageOfInboxRow
    | q.PageOfHolderRow
    | q.PageOfUnassignedRow
    | q.PageOfCampaignRow
    | q.PageOfCampaignInStatusRow
)


class PageFilters(msgspec.Struct, frozen=True, kw_only=True):
    """A page of `campaign_id`'s conversations after id `after`: one holder's (`assignee`),
    their inbox (`inbox`: leaving out what only waits for the contact), the Unassigned ones, or
    all. An inbox without its holder is refused by the caller before it gets here."""

    campaign_id: int
    after: int
    limit: int
    assignee: int | None
    unassigned: bool
    status: str | None
    inbox: bool


async def page_of_conversations(conn: Executor, page: PageFilters) -> Sequence[PageRow]:
    """The page's rows, by the statement of its filters' shape."""
    campaign_id, after, status, limit = page.campaign_id, page.after, page.status, page.limit
    if page.inbox:
        if page.assignee is None:
            raise ValueError("an inbox is one holder's: give the assignee")
        return await q.page_of_inbox(
            conn,
            campaign_id=campaign_id,
            after_id=after,
            assignee_id=page.assignee,
            status=status,
            limit=limit,
        )
    if page.assignee is not None:
        return await q.page_of_holder(
            conn,
            campaign_id=campaign_id,
            after_id=after,
            assignee_id=page.assignee,
            status=status,
            limit=limit,
        )
    if page.unassigned:
        return await q.page_of_unassigned(
            conn, campaign_id=campaign_id, after_id=after, status=status, limit=limit
        )
    if status is not None:
        return await q.page_of_campaign_in_status(
            conn, campaign_id=campaign_id, after_id=after, status=status, limit=limit
        )
    return await q.page_of_campaign(conn, campaign_id=campaign_id, after_id=after, limit=limit)


async def page_statement(page: PageFilters) -> tuple[str, tuple[Any, ...]]:
    """The statement and its parameters `page_of_conversations` sends for these filters, sent
    nowhere: for the plans of tests/integration/test_every_query_plan.py and bench/reads.py."""
    return await statement_of(lambda recorder: page_of_conversations(recorder, page))
