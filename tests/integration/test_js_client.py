"""docs/api.md proven by a client not written in Python: examples/js/texter.mjs (Node and the
`nats` npm package, installed by `make test` from examples/js/package-lock.json) joins a campaign
by invite, takes a batch, reads its first conversation and sends the initial, against the real
services."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import asyncpg
import pytest

from shared.contract import catalogue as api
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import SIGNER, Baton, campaign_with_texters
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "js"
SENDING_NUMBER = "+14155550199"


async def test_the_javascript_example_joins_takes_a_batch_and_sends_an_initial(
    assigner: Baton, sender: Baton, settings: CommonSettings, pool: asyncpg.Pool
) -> None:
    node = shutil.which("node")
    assert node is not None, "Node is needed for the JavaScript client test"
    assert (EXAMPLE / "node_modules" / "nats").is_dir(), "run: npm ci --prefix examples/js"
    c = await campaign_with_texters(assigner, texters=0, contacts=4, batch_size=3,
                                    sending_number=SENDING_NUMBER)  # fmt: skip
    texter = (await assigner.call(api.USER_CREATE, as_user=c["owner"], org_id=c["org"],
                                  name="JS texter", role="texter"))["user_id"]  # fmt: skip
    invite = await assigner.call(api.CAMPAIGN_INVITE, as_user=c["owner"],
                                 campaign_id=c["campaign"], kind="initials")  # fmt: skip
    env = {**os.environ, "NATS_URL": settings.nats_url, "INVITE_TOKEN": invite["token"],
           "BATON_TOKEN": SIGNER.mint(texter)}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        node, str(EXAMPLE / "texter.mjs"), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])

    assert result["campaign_id"] == c["campaign"] and len(result["batch"]) == 3
    assert result["phone"].startswith("+1415555")
    assert (
        result["sent"]["duplicate"] is False
        and result["sent"]["conversation_id"] in result["batch"]
    )
    assert result["repeat_duplicate"] is True
    assert result["repeat_message_id"] == result["sent"]["message_id"]
    assert result["second_initial_refused_with"] == "already_sent"
    held = await pool.fetch("SELECT id, status FROM conversation WHERE assignee_id = $1", texter)
    assert sorted(r["id"] for r in held) == sorted(result["batch"])
    sent_to = result["sent"]["conversation_id"]
    assert {r["id"]: r["status"] for r in held}[sent_to] == "awaiting_reply"
    # One text on OUTBOUND for it, whatever the JavaScript client repeated.
    assert await eventually(lambda: pool.fetchval(
        "SELECT count(*) = 1 FROM outbox WHERE subject = $1 AND published_at IS NOT NULL "
        "AND msg_id = $2", api.OUTBOUND_SMS.subject, str(result["sent"]["message_id"])))  # fmt: skip
