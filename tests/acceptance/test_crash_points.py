"""kill -9 at the exact moments that matter, not at random ones: every service dies once at every
crash point it reaches (shared/runtime/failpoints.py) -- a send committed but not yet answered,
outbox rows leased but not published, published but not marked, a reply committed but not acked, a
reaper pass committed but not announced -- `baton up` restarts it, and a simulated campaign
still finishes with every invariant true. Postgres then shows every reply stored exactly once,
every holder explained by the event log, and nothing left in the outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from shared.contract import catalogue as api
from shared.runtime.failpoints import known_points
from tests.support.baton_up import baton_up, database_url, finished_report, start_simulation
from tests.support.waiting import eventually

pytestmark = pytest.mark.acceptance

# The points each service is sure to reach in this campaign; each must have fired exactly once.
MUST_FIRE = {
    "assigner": [
        f"{api.ASSIGN_REQUEST.subject}:before_reply",
        f"{api.REASSIGN.subject}:before_reply",
        "assigner:after_claim_batch_commit",
    ],
    "sender": [
        f"{api.SEND_INITIAL.subject}:before_reply",
        f"{api.SEND_REPLY.subject}:before_reply",
        "sender:after_batch_commit",
        "outbox:after_lease",
        "outbox:before_mark_published",
        "sender-receipts:before_ack",
    ],
    "inbound": ["inbound-sms:before_ack"],
    # Not the reaper's outbox points: every service's publisher may publish events, and the
    # reaper's few release events are often leased by another's first; the outbox code is the
    # same in every service, and the sender's points above exercise it.
    "reaper": ["reaper:after_commit"],
}
# A holder the event log does not explain: the last move of the conversation must name them.
UNEXPLAINED_HOLDERS = """
    SELECT count(*) FROM conversation c
    LEFT JOIN LATERAL (
        SELECT to_texter_id FROM assignment_move e
        WHERE e.conversation_id = c.id ORDER BY e.event_id DESC LIMIT 1
    ) last ON true
    WHERE c.assignee_id IS DISTINCT FROM last.to_texter_id
"""


async def _postgres_facts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:

        async def outbox_drained() -> bool:
            pending = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            return bool(await conn.fetchval(pending) == 0)

        await eventually(outbox_drained, within=30)
        return {
            "inbound": await conn.fetchval(
                "SELECT count(*) FROM message WHERE direction = 'inbound'"
            ),
            "distinct_provider_ids": await conn.fetchval(
                "SELECT count(DISTINCT provider_message_id) FROM message WHERE direction = 'inbound'"
            ),
            "unexplained_holders": await conn.fetchval(UNEXPLAINED_HOLDERS),
        }
    finally:
        await conn.close()


@pytest.mark.timeout(420)
def test_a_crash_at_every_point_between_commit_and_ack_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    fired = tmp_path / "fired"
    fired.mkdir()
    env = {
        "BATON_CRASH_POINTS": ",".join(sorted(known_points())),
        "BATON_CRASH_ONCE_DIR": str(fired),
        # Rows a crashed publisher leased go out again after this; 30 s in production.
        "BATON_OUTBOX_LEASE_SECONDS": "2",
        "BATON_REAP_INTERVAL_SECONDS": "2",
    }
    with baton_up(tmp_path / "data", tmp_path / "up.log", env_extra=env) as up:
        simulation = start_simulation(
            up, "--contacts", "600", "--texters", "5", "--batch-size", "40", "--send-rate", "40",
            "--reply-rate", "0.3", "--unresponsive", "0.4", "--release-after-minutes", "1",
            "--reassign-after-seconds", "8", "--time-limit-seconds", "300",
        )  # fmt: skip
        report = finished_report(simulation, timeout=380)
        facts = asyncio.run(_postgres_facts(database_url(up)))
        log = up.output()
    crashed = {marker.name for marker in fired.iterdir()}
    for service, points in MUST_FIRE.items():
        for point in points:
            assert f"{service}.{point.replace(':', '.')}" in crashed, (service, point, crashed)
    assert log.count("exited with -9; restarting") == len(crashed), log
    assert facts["inbound"] == facts["distinct_provider_ids"] == report["messages"]["replies"]
    assert facts["unexplained_holders"] == 0
    assert report["released"] > 0
