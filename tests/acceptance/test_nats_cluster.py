"""A three-node NATS cluster on loopback with R3 streams: one node killed during a campaign, and
the campaign completes with every invariant true."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from services.inbound.service import DEFINITION as INBOUND
from services.inbound.settings import InboundSettings
from services.reaper.service import DEFINITION as REAPER
from services.reaper.settings import ReaperSettings
from services.sender.service import DEFINITION as SENDER
from services.sender.settings import SenderSettings
from shared.runtime.client import PATIENT, BatonClient
from tests.support.baton_client import SIGNER
from tests.support.services import running
from tools.devservers.nats import LocalNats
from tools.devservers.ports import free_port
from tools.simulation.run import render, simulate
from tools.simulation.scenario import Scenario

pytestmark = pytest.mark.acceptance


def _cluster(tmp_path: Path) -> list[LocalNats]:
    routes = [free_port() for _ in range(3)]
    nodes = []
    for i in range(3):
        others = ", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(routes) if j != i)
        extra = (f"server_name: n{i}\n"
                 f"cluster {{\n  name: baton\n  listen: 127.0.0.1:{routes[i]}\n  routes: [{others}]\n}}\n")  # fmt: skip
        nodes.append(LocalNats(tmp_path / f"n{i}", durable=False, extra_config=extra))
    return nodes


@contextlib.asynccontextmanager
async def _services(database_url: str, nats_url: str) -> AsyncIterator[None]:
    common = {
        "database_url": database_url,
        "nats_url": nats_url,
        "db_pool_min": 1,
        "stream_replicas": 3,
    }
    async with (
        running(ASSIGNER, AssignerSettings(**common)),
        running(SENDER, SenderSettings(**common, outbox_poll_seconds=0.2)),
        running(INBOUND, InboundSettings(**common, fetch_timeout_seconds=0.2)),
        running(REAPER, ReaperSettings(**common, reap_interval_seconds=0.5)),
    ):
        yield


@pytest.mark.timeout(300)
async def test_a_node_killed_during_a_campaign(tmp_path: Path, database_url: str) -> None:
    nodes = _cluster(tmp_path)
    for node in nodes:
        await asyncio.to_thread(node.start)
    try:
        async with _services(database_url, nodes[0].url):
            nc = await nats.connect(
                nodes[0].url, max_reconnect_attempts=-1, reconnect_time_wait=0.2
            )
            scenario = Scenario(contacts=1200, texters=4, batch_size=50, send_rate=40, reply_rate=0.2,
                                unresponsive=0, release_after_minutes=None, reassign_after_seconds=2,
                                time_limit_seconds=180)  # fmt: skip
            # The services verify the tests' secret (tests/support/services.py); SIGNER signs with it.
            client = BatonClient(nc, timeout=10, retry=PATIENT)
            campaign = asyncio.create_task(simulate(nc, client, SIGNER, scenario))
            await asyncio.sleep(3)
            assert not campaign.done(), "the campaign ended before the node could be killed"
            streams = await nc.jetstream().stream_info("OUTBOUND")
            assert streams.config.num_replicas == 3
            nodes[2].kill()  # a node holding a replica of every stream, maybe a stream leader
            report = await campaign
            await nc.close()
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)
    assert report.finished, render(report)
    assert report.invariants and all(report.invariants.values()), render(report)
