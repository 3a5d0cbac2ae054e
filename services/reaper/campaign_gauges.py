"""The business gauges an organizer watches, per active campaign: what waits in Unassigned,
what waits on a texter, what has not started, and the campaign's release timeout."""

from __future__ import annotations

import asyncpg
from prometheus_client import Gauge

from services.reaper import queries

CONVERSATIONS = Gauge(
    "baton_campaign_conversations",
    "Conversations of an active campaign, by state: unassigned_not_started, "
    "unassigned_needs_reply, assigned_needs_reply, not_started.",
    ["campaign_id", "state"],
)
RELEASE_AFTER = Gauge(
    "baton_campaign_release_after_seconds",
    "The campaign's Release Unhandled Replies timeout (absent when the setting is off).",
    ["campaign_id"],
)
STATES = ("unassigned_not_started", "unassigned_needs_reply", "assigned_needs_reply", "not_started")


async def report_campaign_gauges(pool: asyncpg.Pool) -> None:
    rows = await queries.campaign_gauges(pool)
    # Only active campaigns are shown; archived ones drop out.
    CONVERSATIONS.clear()
    RELEASE_AFTER.clear()
    for row in rows:
        campaign = str(row.campaign_id)
        counts = (
            row.unassigned_not_started,
            row.unassigned_needs_reply,
            row.assigned_needs_reply,
            row.not_started,
        )
        for state, count in zip(STATES, counts, strict=True):
            CONVERSATIONS.labels(campaign, state).set(float(count))
        if row.release_unhandled_after_minutes is not None:
            RELEASE_AFTER.labels(campaign).set(row.release_unhandled_after_minutes * 60)
