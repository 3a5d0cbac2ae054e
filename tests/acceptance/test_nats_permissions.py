"""deploy/nats/nats-production.conf on a real nats-server: services work under their own users,
and a user cannot publish or subscribe outside its subjects."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import pytest

from services.assigner.service import DEFINITION as ASSIGNER
from shared.devservers.nats import nats_server_binary
from shared.devservers.ports import free_port, wait_for_port
from shared.envelope import unwrap
from shared.settings import AssignerSettings, CommonSettings
from tests.support.services import running

pytestmark = pytest.mark.acceptance
CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-production.conf"
PASSWORDS = {
    user: f"{user}-secret"
    for user in ("assigner", "sender", "inbound", "reaper", "bridge", "client")
}


@contextlib.contextmanager
def production_nats(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    text = (CONFIG.read_text()
            .replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{port}")
            .replace("http: 0.0.0.0:8222\n", "")
            .replace("store_dir: /data/jetstream", f"store_dir: {str(tmp_path / 'js')!r}"))  # fmt: skip
    config = tmp_path / "nats.conf"
    config.write_text(text)
    env = dict(os.environ, **{f"BATON_NATS_PASSWORD_{u.upper()}": p for u, p in PASSWORDS.items()})
    with (tmp_path / "nats.log").open("wb") as log:
        server = subprocess.Popen([str(nats_server_binary()), "-c", str(config)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_for_port(port, 20, "nats-server")
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(20)


async def _connect(url: str, user: str, errors: list[str]) -> nats.NATS:
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    return await nats.connect(url, user=user, password=PASSWORDS[user], error_cb=on_error,
                              max_reconnect_attempts=1)  # fmt: skip


async def test_services_run_under_their_users_and_nobody_leaves_their_subjects(
    tmp_path: Path, settings: CommonSettings
) -> None:
    with production_nats(tmp_path) as url:
        assigner_settings = AssignerSettings(database_url=settings.database_url, nats_url=url, db_pool_min=1,
                                             nats_user="assigner", nats_password=PASSWORDS["assigner"])  # fmt: skip
        errors: list[str] = []
        async with running(
            ASSIGNER, assigner_settings, client={"user": "client", "password": PASSWORDS["client"]}
        ):
            client = await _connect(url, "client", errors)
            reply = await client.request(
                "baton.admin.org.create", msgspec.json.encode({"name": "Org"}), timeout=5
            )
            assert unwrap(reply.data)["org_id"] >= 1
            # The inbound service's user may not send texts...
            inbound = await _connect(url, "inbound", errors)
            await inbound.publish("baton.outbound.sms", b'{"forged": true}')
            # ...nor may a client read them, or answer on a service's subject.
            await client.subscribe("baton.outbound.>")
            await client.subscribe("baton.assign.request")
            await inbound.flush()
            await client.flush()
            await asyncio.sleep(0.5)  # permission errors arrive asynchronously
            js = (await _connect(url, "assigner", errors)).jetstream()
            assert (await js.stream_info("OUTBOUND")).state.messages == 0
            await inbound.close()
            await client.close()
    violations = {e.lower() for e in errors if "permissions violation" in e.lower()}
    assert violations == {
        'nats: permissions violation for publish to "baton.outbound.sms"',
        'nats: permissions violation for subscription to "baton.outbound.>"',
        'nats: permissions violation for subscription to "baton.assign.request"',
    }, errors
