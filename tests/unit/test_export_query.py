"""services/assigner/exports.export_query without a database: the COPY an export runs is its
kind's named query, each argument in the `$n` place exports.sql gives its parameter's name."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import pytest

from services.assigner.exports import export_query
from shared.runtime.queries import parse_named_queries

SINCE = datetime(2026, 12, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 2, tzinfo=UTC)
NAMED = {
    "campaign_id": 3,
    "org_id": 2,
    "statuses": ["awaiting_reply", "needs_reply"],
    "since": SINCE,
    "until": UNTIL,
}


@pytest.mark.parametrize("kind", ["conversations", "messages"])
async def test_an_export_copies_its_kinds_query_with_each_argument_in_its_place(
    kind: str,
) -> None:
    text = resources.files("services.assigner").joinpath("exports.sql").read_text("utf-8")
    named = parse_named_queries(text)[f"export_{kind}"]
    query, args = await export_query(
        kind,
        campaign_id=3,
        org_id=2,
        statuses=["awaiting_reply", "needs_reply"],
        since=SINCE,
        until=UNTIL,
    )
    assert query == named.sql
    assert dict(zip(named.params, args, strict=True)) == NAMED


async def test_a_kind_with_no_export_query_is_refused() -> None:
    with pytest.raises(ValueError, match="no export of 'contacts'"):
        await export_query("contacts", campaign_id=3, org_id=2, statuses=[], since=None, until=None)
