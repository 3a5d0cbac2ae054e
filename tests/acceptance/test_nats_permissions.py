"""deploy/nats/nats-production.conf on a real nats-server: services work under their own users,
a user cannot publish or subscribe outside its subjects, and each client system reads only the
replies on its own inbox prefix (docs/trust.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, ObjectStoreConfig

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from services.bridge.service import DEFINITION as BRIDGE
from shared.contract import catalogue as api
from shared.contract.catalogue import SERVICE_NAMES
from shared.contract.envelope import unwrap
from shared.contract.schemas.admin import CreateOrg
from shared.contract.schemas.messaging import OutboundSms
from shared.runtime.commands.credentials import GivenToken
from shared.runtime.commands.running_up import CliSettings
from shared.runtime.jetstream import declare_all
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import OPERATOR, SIGNER, Baton, auth_headers, campaign_with_texters
from tests.support.bridge import bridge_settings
from tests.support.services import running
from tests.support.waiting import eventually
from tools.cli.client import connected
from tools.cli.export_command import export_to_file
from tools.devservers.nats import nats_server_binary
from tools.devservers.ports import free_port, wait_for_port
from tools.simulation.twilio_simulator import TwilioSimulator

pytestmark = pytest.mark.acceptance
CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-production.conf"
SERVICES = SERVICE_NAMES
CLIENTS = ("bridge", "client", "webapp", "crm")
PASSWORDS = {user: f"{user}-secret" for user in SERVICES + CLIENTS}
# The prefix each client-side user connects with (BATON_NATS_INBOX_PREFIX); services keep _INBOX.
PREFIX = {user: f"_INBOX_{user}" for user in CLIENTS}


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


async def _connect(url: str, user: str, errors: list[str]) -> NatsClient:
    """`user` connected as a deployment connects it: client-side users with their own prefix."""

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    prefix = {"inbox_prefix": PREFIX[user]} if user in PREFIX else {}
    return await nats.connect(url, user=user, password=PASSWORDS[user], error_cb=on_error,
                              max_reconnect_attempts=1, **prefix)  # fmt: skip


def _violations(errors: list[str]) -> set[str]:
    """The permission violations the server reported to one connection (nats-py lowercases)."""
    return {e.lower() for e in errors if "permissions violation" in e.lower()}


def _publish(subject: str) -> str:
    return f'nats: permissions violation for publish to "{subject.lower()}"'


def _subscription(subject: str) -> str:
    return f'nats: permissions violation for subscription to "{subject.lower()}"'


async def _settle(*connections: NatsClient) -> None:
    for connection in connections:
        await connection.flush()
    await asyncio.sleep(0.5)  # permission errors arrive asynchronously


def _assigner(settings: CommonSettings, url: str) -> AssignerSettings:
    return AssignerSettings(database_url=settings.database_url, nats_url=url, db_pool_min=1,
                            nats_user="assigner", nats_password=PASSWORDS["assigner"])  # fmt: skip


# The readiness check in `running` asks from the client user's connection, with its prefix.
READINESS = {"user": "client", "password": PASSWORDS["client"], "inbox_prefix": PREFIX["client"]}


async def test_services_run_under_their_users_and_nobody_leaves_their_subjects(
    tmp_path: Path, settings: CommonSettings
) -> None:
    client_errors: list[str] = []
    inbound_errors: list[str] = []
    with production_nats(tmp_path) as url:
        async with running(ASSIGNER, _assigner(settings, url), client=READINESS):
            client = await _connect(url, "client", client_errors)
            reply = await client.request(
                api.ORG_CREATE.subject, msgspec.json.encode({"name": "Org"}), timeout=5,
                headers=auth_headers(OPERATOR),
            )  # fmt: skip
            assert reply.subject.startswith(PREFIX["client"] + ".")
            assert unwrap(reply.data)["org_id"] >= 1
            # The CLI connects as its settings say (NATS user and inbox prefix) and is answered.
            cli_settings = CliSettings(nats_url=url, nats_user="client",
                                          nats_password=PASSWORDS["client"],
                                          nats_inbox_prefix=PREFIX["client"])  # fmt: skip
            async with connected(
                cli_settings, GivenToken(SIGNER.mint(OPERATOR, operator=True))
            ) as cli:
                assert (await cli.call(api.ORG_CREATE, CreateOrg(name="From the CLI"))).org_id > 1
            # `baton status` logs in the same way: the assigner answers, the others are not running.
            env = {**os.environ, "BATON_NATS_URL": url, "BATON_NATS_USER": "client",
                   "BATON_NATS_PASSWORD": PASSWORDS["client"],
                   "BATON_NATS_INBOX_PREFIX": PREFIX["client"]}  # fmt: skip
            status = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tools.cli.main", "status", "--json", env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await status.communicate()
            answers = json.loads(out)
            assert answers["assigner"]["service"] == "assigner", err.decode()
            assert answers["sender"] == {"error": "no answer"}
            assert status.returncode == 1  # not every service is up
            # The inbound service's user may not send texts...
            inbound = await _connect(url, "inbound", inbound_errors)
            await inbound.publish(api.OUTBOUND_SMS.subject, b'{"forged": true}')
            # ...nor may a client read them, or answer on a service's subject.
            await client.subscribe(f"{api.OUTBOUND_ROOT}.>")
            await client.subscribe(api.ASSIGN_REQUEST.subject)
            await _settle(inbound, client)
            js = (await _connect(url, "assigner", [])).jetstream()
            assert (await js.stream_info("OUTBOUND")).state.messages == 0
            await inbound.close()
            await client.close()
    assert _violations(inbound_errors) == {_publish(api.OUTBOUND_SMS.subject)}, inbound_errors
    assert _violations(client_errors) == {
        _subscription(f"{api.OUTBOUND_ROOT}.>"),
        _subscription(api.ASSIGN_REQUEST.subject),
    }, client_errors


async def test_a_client_system_never_sees_another_systems_replies(
    tmp_path: Path, settings: CommonSettings
) -> None:
    client_errors: list[str] = []
    webapp_errors: list[str] = []
    seen: list[Msg] = []  # everything the web app's connection received, wherever it listened

    async def overhear(msg: Msg) -> None:
        seen.append(msg)

    with production_nats(tmp_path) as url:
        async with running(ASSIGNER, _assigner(settings, url), client=READINESS):
            webapp = await _connect(url, "webapp", webapp_errors)
            # Another client system, subscribed everywhere it may and trying where it may not.
            for subject in ("_INBOX_webapp.>", "_INBOX_client.>", "_INBOX.>", "*.>", ">"):
                await webapp.subscribe(subject, cb=overhear)
            await _settle(webapp)
            # Its own requests work, and their answers come back on its own prefix.
            own = await webapp.request(
                api.ORG_CREATE.subject, msgspec.json.encode({"name": "Web"}), timeout=5,
                headers=auth_headers(OPERATOR),
            )  # fmt: skip
            assert unwrap(own.data)["org_id"] >= 1
            await asyncio.sleep(0.2)
            assert {m.subject for m in seen} == {own.subject}, [m.subject for m in seen]
            assert own.subject.startswith(PREFIX["webapp"] + ".")
            seen.clear()

            # The CLI's user creates an organization, a campaign and an invite token.
            client = await _connect(url, "client", client_errors)
            baton = Baton(client)
            setup = await campaign_with_texters(baton, texters=0, contacts=0)
            invite = await baton.call(api.CAMPAIGN_INVITE, as_user=setup["owner"],
                                      campaign_id=setup["campaign"], kind="initials")  # fmt: skip
            assert invite["token"]
            await _settle(client, webapp)
            await client.close()
            await webapp.close()

    # Nothing reached the web app: not the token, not the organization, not any reply at all.
    assert seen == [], [(m.subject, m.data) for m in seen]
    assert _violations(webapp_errors) == {
        _subscription("_INBOX_client.>"),
        _subscription("_INBOX.>"),
        _subscription("*.>"),
        _subscription(">"),
    }, webapp_errors
    assert _violations(client_errors) == set(), client_errors


async def test_only_the_bridge_feeds_inbound_and_reads_outbound(tmp_path: Path) -> None:
    client_errors: list[str] = []
    bridge_errors: list[str] = []
    with production_nats(tmp_path) as url:
        # The sender declares the streams at start and puts texts on OUTBOUND.
        sender = await _connect(url, "sender", [])
        sender_js = sender.jetstream()
        await declare_all(sender_js)
        await sender_js.publish(api.OUTBOUND_SMS.at("1"), b'{"message_id": 1}')

        client = await _connect(url, "client", client_errors)
        client_js = client.jetstream(timeout=1)
        texts: list[Msg] = []

        async def read(msg: Msg) -> None:
            texts.append(msg)

        await client.publish(api.INBOUND_SMS.subject, b'{"forged": true}')
        await client.publish(api.INBOUND_RECEIPT.subject, b'{"forged": true}')
        await client.subscribe(f"{api.OUTBOUND_ROOT}.>", cb=read)
        with pytest.raises(NatsTimeout):  # refused: the request never reaches JetStream
            await client_js.add_consumer(
                "OUTBOUND", ConsumerConfig(durable_name="stolen", ack_policy=AckPolicy.EXPLICIT)
            )
        with pytest.raises(NatsTimeout):
            await client_js.add_consumer(
                "OUTBOUND",
                ConsumerConfig(name="stolen-sms", filter_subject=api.OUTBOUND_SMS.pattern,
                               ack_policy=AckPolicy.EXPLICIT),
            )  # fmt: skip

        # The bridge takes its texts from OUTBOUND and answers with receipts and replies.
        bridge = await _connect(url, "bridge", bridge_errors)
        bridge_js = bridge.jetstream(timeout=5)
        await bridge_js.add_consumer(
            "OUTBOUND",
            ConsumerConfig(durable_name="bridge-outbound", filter_subject=api.OUTBOUND_SMS.pattern,
                           ack_policy=AckPolicy.EXPLICIT),
        )  # fmt: skip
        # A client may not pull from the bridge's consumer either.
        stolen = await client_js.pull_subscribe_bind(durable="bridge-outbound", stream="OUTBOUND")
        with pytest.raises(NatsTimeout):
            await stolen.fetch(1, timeout=1)
        pulled = await bridge_js.pull_subscribe_bind(durable="bridge-outbound", stream="OUTBOUND")
        fetched = await pulled.fetch(10, timeout=5)
        assert [m.data for m in fetched] == [b'{"message_id": 1}']
        assert fetched[0].reply.startswith("$JS.ACK.OUTBOUND.bridge-outbound.")
        await fetched[0].ack_sync()
        receipt = await bridge_js.publish(api.INBOUND_RECEIPT.subject, b'{"message_id": 1}')
        reply = await bridge_js.publish(api.INBOUND_SMS.subject, b'{"body": "Yes"}')
        assert (receipt.stream, reply.stream) == ("INBOUND", "INBOUND")
        consumer = await bridge_js.consumer_info("OUTBOUND", "bridge-outbound")
        assert (consumer.num_pending, consumer.num_ack_pending) == (0, 0)

        await _settle(client, bridge)
        inbound = await sender_js.stream_info("INBOUND")
        outbound = await sender_js.stream_info("OUTBOUND")
        for connection in (client, bridge, sender):
            await connection.close()

    assert texts == []
    assert inbound.state.messages == 2  # the bridge's two, none of the client's
    assert (outbound.state.messages, outbound.state.consumer_count) == (1, 1)
    assert _violations(client_errors) == {
        _publish(api.INBOUND_SMS.subject),
        _publish(api.INBOUND_RECEIPT.subject),
        _subscription(f"{api.OUTBOUND_ROOT}.>"),
        _publish("$JS.API.CONSUMER.DURABLE.CREATE.OUTBOUND.stolen"),
        _publish("$JS.API.CONSUMER.CREATE.OUTBOUND.stolen-sms.baton.outbound.sms.*"),
        _publish("$JS.API.CONSUMER.MSG.NEXT.OUTBOUND.bridge-outbound"),
    }, client_errors
    assert _violations(bridge_errors) == set(), bridge_errors


async def test_a_client_cannot_aim_a_services_answer_at_a_stream(
    tmp_path: Path, settings: CommonSettings
) -> None:
    with production_nats(tmp_path) as url:
        async with running(ASSIGNER, _assigner(settings, url), client=READINESS):
            client = await _connect(url, "client", [])
            for subject in (api.INBOUND_SMS.subject, api.OUTBOUND_SMS.at("1")):
                await client.publish(api.STATUS["assigner"].subject, b"{}", reply=subject)
                # ...and a request that would change something is not carried out either.
                await client.publish(api.ORG_CREATE.subject, b'{"name": "Aimed"}', reply=subject,
                                     headers=auth_headers(OPERATOR))  # fmt: skip
            await _settle(client)
            organizations = await _count_organizations(settings.database_url)
            js = (await _connect(url, "assigner", [])).jetstream()
            inbound = await js.stream_info("INBOUND")
            outbound = await js.stream_info("OUTBOUND")
            await client.close()
    assert (inbound.state.messages, outbound.state.messages) == (0, 0)
    assert organizations == 0


async def _count_organizations(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM organization")
        return count
    finally:
        await conn.close()


async def test_exports_are_written_by_the_assigner_and_clients_read_them_only_in_parts(
    tmp_path: Path, settings: CommonSettings
) -> None:
    """Issue #33: the assigner writes the exports bucket under its own user; a client system
    downloads an export through `baton.query.campaign.export.part` and cannot touch the bucket."""
    client_errors: list[str] = []
    with production_nats(tmp_path) as url:
        # A bucket made before with other limits is given the settings' under the assigner's
        # own rights.
        assigner_nc = await _connect(url, "assigner", [])
        assigner_js = assigner_nc.jetstream()
        await assigner_js.create_object_store(api.EXPORTS_BUCKET, ObjectStoreConfig(ttl=3600.0))
        async with running(ASSIGNER, _assigner(settings, url), client=READINESS):
            client = await _connect(url, "client", client_errors)
            baton = Baton(client)
            setup = await campaign_with_texters(baton, texters=1, contacts=5)
            path = tmp_path / "conversations.csv"
            state = await export_to_file(baton.client(setup["owner"]), {
                "campaign_id": setup["campaign"], "kind": "conversations"}, path, lambda _: None)  # fmt: skip
            assert state["row_count"] == 5
            assert len(path.read_text().splitlines()) == 6  # the header and five rows
            bucket = f"OBJ_{api.EXPORTS_BUCKET}"
            await client.publish(f"$JS.API.STREAM.MSG.GET.{bucket}", b'{"seq": 1}')
            await client.subscribe(f"$O.{api.EXPORTS_BUCKET}.>")
            await _settle(client)
            await client.close()
        limits = (await assigner_js.stream_info(f"OBJ_{api.EXPORTS_BUCKET}")).config
        await assigner_nc.close()
    assert (limits.max_age, limits.max_bytes) == (72 * 3600, 10 * 2**30)
    assert _violations(client_errors) == {
        _publish(f"$JS.API.STREAM.MSG.GET.OBJ_{api.EXPORTS_BUCKET}"),
        _subscription(f"$O.{api.EXPORTS_BUCKET}.>"),
    }, client_errors


async def test_the_bridge_service_runs_under_its_own_user(
    tmp_path: Path, settings: CommonSettings
) -> None:
    """The real bridge under the production `bridge` user: it declares, takes a text from its
    consumer, sends it to the simulator, publishes the receipt and answers its status subject,
    and the server reports no permission violation for it."""
    with production_nats(tmp_path) as url:
        async with TwilioSimulator() as sim:
            own = replace(
                bridge_settings(replace(settings, nats_url=url), sim),
                nats_user="bridge", nats_password=PASSWORDS["bridge"],
                nats_inbox_prefix=PREFIX["bridge"],
            )  # fmt: skip
            async with running(BRIDGE, own, client=READINESS):
                sender = await _connect(url, "sender", [])
                sender_js = sender.jetstream()
                text = OutboundSms(message_id=1, conversation_id=1, campaign_id=1, org_id=1,
                                   to="+12025550100", from_number="+14155550100", body="Hi",
                                   kind="initial")  # fmt: skip
                await sender_js.publish(api.OUTBOUND_SMS.at("1"), msgspec.json.encode(text),
                                        headers={"Nats-Msg-Id": "1"})  # fmt: skip

                async def receipt_on_inbound() -> bool:
                    return (await sender_js.stream_info("INBOUND")).state.messages == 1

                assert await eventually(receipt_on_inbound)
                await sender.close()
        assert [a.to for a in sim.arrivals] == ["+12025550100"]
    log = (tmp_path / "nats.log").read_text().lower()
    assert "violation" not in log, [line for line in log.splitlines() if "violation" in line]
