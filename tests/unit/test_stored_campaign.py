"""fetch_campaign gives one type, StoredCampaign, whether it locked the row or not: the two
queries it reads (queries.sql `campaign`, `campaign_for_update`) must keep the same columns."""

from __future__ import annotations

import msgspec

from services.assigner import queries as q
from services.assigner.admin import StoredCampaign, campaign_view


def _columns(row_type: type[msgspec.Struct]) -> list[tuple[str, object]]:
    return [(f.name, f.type) for f in msgspec.structs.fields(row_type)]


def test_the_locked_and_the_plain_read_have_the_same_columns() -> None:
    assert _columns(q.CampaignRow) == _columns(q.CampaignForUpdateRow)
    assert _columns(StoredCampaign) == _columns(q.CampaignRow)


def test_either_row_gives_the_same_campaign() -> None:
    values = dict(
        id=7,
        org_id=3,
        team_id=None,
        title="Rally",
        status="active",
        self_assign=True,
        batch_size=300,
        replies_batch_size=50,
        require_replies_handled=False,
        release_unhandled_after_minutes=None,
        texting_hours_start=9,
        texting_hours_end=21,
        closing_margin_minutes=30,
        fallback_zone="America/Chicago",
        sending_number=None,
        team_ids=[4, 5],
    )
    plain = StoredCampaign.of(q.CampaignRow(**values))
    locked = StoredCampaign.of(q.CampaignForUpdateRow(**values))
    assert plain == locked
    assert (plain.org_id, plain.team_ids) == (3, [4, 5])
    view = campaign_view(locked)
    assert (view.campaign_id, view.texting_hours.start, view.fallback_zone) == (
        7,
        9,
        "America/Chicago",
    )
