"""A whole small campaign driven over NATS only, with every invariant checked at the end."""

from __future__ import annotations

import nats
import pytest
from nats.aio.client import Client as NatsClient

from services.reaper.service import DEFINITION as REAPER
from services.reaper.settings import ReaperSettings
from shared.runtime.client import BatonClient
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import SIGNER, Baton
from tests.support.services import running
from tools.simulation.progress import Progress
from tools.simulation.run import render, simulate
from tools.simulation.scenario import Scenario

pytestmark = pytest.mark.integration


async def test_a_small_campaign_runs_to_the_end_with_every_invariant_true(
    assigner: Baton, sender: Baton, inbound: Baton, settings: CommonSettings, nc: NatsClient
) -> None:
    reaper_settings = ReaperSettings(database_url=settings.database_url, nats_url=settings.nats_url,
                                     db_pool_min=1, reap_interval_seconds=0.5)  # fmt: skip
    scenario = Scenario(contacts=300, texters=4, batch_size=40, send_rate=200, reply_rate=0.3, stop_rate=0.2,
                        unresponsive=0, release_after_minutes=None, reassign_after_seconds=1,
                        time_limit_seconds=100)  # fmt: skip
    async with running(REAPER, reaper_settings):
        client_nc = await nats.connect(settings.nats_url)
        try:
            progress: list[Progress] = []
            # Each party signs with the services' key: the operator, the owner, every texter.
            report = await simulate(
                client_nc, BatonClient(client_nc), SIGNER, scenario, progress.append
            )
        finally:
            await client_nc.close()
    print(render(report))
    assert report.finished, render(report)
    assert report.invariants and all(report.invariants.values()), render(report)
    assert report.messages["sent"] >= 300  # every initial, plus answers to replies
    assert report.messages["stops"] >= 1 and report.messages["replies"] > report.messages["stops"]
    assert report.stats["by_status"]["closed"] == report.messages["stops"]
    assert 0 < report.request_latency_ms["p50"] <= report.request_latency_ms["p99"]
    # Live progress saw the campaign move, and its last line agrees with the report.
    assert len(progress) >= 2 and progress[0].texts_sent <= progress[-1].texts_sent
    assert progress[-1].by_status["not_started"] == 0 and progress[-1].contacts == 300
    assert progress[-1].texts_sent <= report.messages["sent"]
