"""The one place that picks a page's statement from the filters given.

One statement with optional filters (`$3 IS NULL OR assignee_id = $3`) lets Postgres cache a
generic plan that cannot use the index its filter needs: after a few executions it walked the
whole primary key for a texter with nothing to return (issue 29). So each filter shape has its
own named query (queries.sql), whose equalities name its index; the status filters, which only
narrow what that index gives, stay bound parameters.
"""

from __future__ import annotations

from typing import Any

from services.assigner.named_queries import QUERIES


def page_statement(
    campaign_id: int,
    after: int,
    limit: int,
    *,
    assignee: int | None,
    unassigned: bool,
    status: str | None,
    inbox: bool,
) -> tuple[str, tuple[Any, ...]]:
    """The statement and its parameters for a page of `campaign_id`'s conversations after id
    `after`: one holder's (`assignee`), their inbox (`inbox`: leaving out what only waits for the
    contact), the Unassigned ones, or all. An inbox without its holder is refused by the caller
    before it gets here."""
    if inbox:
        if assignee is None:
            raise ValueError("an inbox is one holder's: give the assignee")
        return QUERIES["page_of_inbox"], (campaign_id, after, assignee, status, limit)
    if assignee is not None:
        return QUERIES["page_of_holder"], (campaign_id, after, assignee, status, limit)
    if unassigned:
        return QUERIES["page_of_unassigned"], (campaign_id, after, status, limit)
    return QUERIES["page_of_campaign"], (campaign_id, after, status, limit)
