"""Drive Baton with Locust: every Locust user is a texter speaking NATS, as Baton's clients do.

    pip install -e '.[load]'
    BATON_NATS_URL=nats://127.0.0.1:4222 locust -f bench/locustfile.py --headless -u 50 -r 10 -t 2m

Tokens are minted with the key the services verify: BATON_AUTH_SECRET (or _SECRET_FILE, or
BATON_AUTH_SIGNING_KEY_FILE) when set, else the development secret of `baton up` in ./.baton.

When the test starts, each process that runs users sets up its own campaign over the admin
subjects (BATON_LOCUST_CONTACTS contacts, batches of BATON_LOCUST_BATCH_SIZE) and, unless
BATON_LOCUST_BRIDGE=0, a simulated SMS provider bridge that acknowledges texts on OUTBOUND and has
BATON_LOCUST_REPLY_RATE of the contacts reply. Each user is a new texter who joins by the invite
link with a token naming them, sends the initials they hold at up to BATON_LOCUST_SEND_RATE texts per second, answers
replies, and asks for another batch when done (Request Conversations). Every request is one row
of Locust's statistics, named by subject. A refusal is a failure named by its code, except those a
texter meets in normal work (no more conversations yet, a contact who opted out meanwhile).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from typing import Any

from locust import User, between, events, task
from locust.env import Environment
from locust.runners import MasterRunner

from bench.blocking_nats import BlockingNats
from shared.contract import catalogue as api
from shared.contract.catalogue import Route
from shared.contract.errors import BatonError
from shared.runtime.client import BatonClient
from shared.runtime.commands.credentials import SignedAs, local_signer
from shared.runtime.settings import CommonSettings, load_settings
from tools.simulation.bridge import Bridge
from tools.simulation.run import set_up
from tools.simulation.scenario import Scenario
from tools.simulation.setup import acting

NATS_URL = os.environ.get("BATON_NATS_URL", "nats://127.0.0.1:4222")
CONTACTS = int(os.environ.get("BATON_LOCUST_CONTACTS", "20000"))
BATCH_SIZE = int(os.environ.get("BATON_LOCUST_BATCH_SIZE", "100"))
SEND_RATE = float(os.environ.get("BATON_LOCUST_SEND_RATE", "10"))
REPLY_RATE = float(os.environ.get("BATON_LOCUST_REPLY_RATE", "0.07"))
RUN_BRIDGE = os.environ.get("BATON_LOCUST_BRIDGE", "1") != "0"
# Without a key Locust stops here, with the message saying how to configure one.
SIGNER = local_signer(load_settings(CommonSettings))
# Refusals that are part of a texter's normal day, not failures of Baton.
NORMAL_REFUSALS = frozenset(
    {"no_more_conversations", "initials_pending", "replies_pending", "opted_out",
     "assignment_changed", "already_sent"}
)  # fmt: skip


class Campaign:
    """What the users of this process share: one connection, the campaign, the bridge."""

    nats: BlockingNats | None = None
    setup: dict[str, Any] = {}
    organizer: BatonClient | None = None  # the campaign's owner, who creates the texters
    bridge_stop: asyncio.Event | None = None
    bridge_task: asyncio.Task[None] | None = None
    texter_numbers = itertools.count(1)


@events.test_start.add_listener
def set_up_campaign(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, MasterRunner):
        return  # the workers run the users; each sets up its own campaign
    Campaign.nats = connection = BlockingNats(NATS_URL)
    scenario = Scenario(contacts=CONTACTS, texters=0, batch_size=BATCH_SIZE)
    Campaign.setup = connection.run(set_up(connection.client, SIGNER, scenario))
    Campaign.organizer = acting(connection.client, SIGNER, Campaign.setup["owner"])
    if RUN_BRIDGE:

        async def start_bridge() -> asyncio.Event:
            stop = asyncio.Event()
            bridge = Bridge(connection.nc, Campaign.setup["campaign"],
                            Campaign.setup["sending_number"], REPLY_RATE, stop_rate=0.05)  # fmt: skip
            await bridge.start()
            # Kept on the connection's loop; it ends when `stop` is set at test stop.
            Campaign.bridge_task = asyncio.get_running_loop().create_task(bridge.run(stop))
            return stop

        Campaign.bridge_stop = connection.run(start_bridge())


@events.test_stop.add_listener
def tear_down(environment: Environment, **_: Any) -> None:
    connection = Campaign.nats
    if connection is None:
        return
    stop, task = Campaign.bridge_stop, Campaign.bridge_task
    if stop is not None and task is not None:

        async def stop_bridge() -> None:
            stop.set()  # the bridge finishes its fetch and lets go of its subscription
            await asyncio.wait_for(task, 10)

        connection.run(stop_bridge())
    connection.close()
    Campaign.nats = None


class Texter(User):
    """A volunteer with the texting app open: send what they hold, then ask for more."""

    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        setup = Campaign.setup
        number = next(Campaign.texter_numbers)
        # The user exists before it joins: a join enrolls whoever its token names.
        user = self._call(api.USER_CREATE, as_=Campaign.organizer, org_id=setup["org"],
                          name=f"Locust texter {number}", role="texter")  # fmt: skip
        self.texter_id = int(user["user_id"]) if user else 0
        assert Campaign.nats is not None
        self.baton = Campaign.nats.client.acting_as(SignedAs(SIGNER, self.texter_id))
        self._call(api.ASSIGN_JOIN, token=setup["token"])

    @task(10)
    def send_initials(self) -> None:
        self._send_held("not_started", api.SEND_INITIAL)

    @task(5)
    def answer_replies(self) -> None:
        self._send_held("needs_reply", api.SEND_REPLY)

    @task(2)
    def request_conversations(self) -> None:
        if self._call(api.ASSIGN_REQUEST, campaign_id=Campaign.setup["campaign"],
                      kind="initials") is None:  # fmt: skip
            self._call(api.ASSIGN_REQUEST, campaign_id=Campaign.setup["campaign"],
                       kind="replies")  # fmt: skip

    def _send_held(self, status: str, route: Route[Any, Any]) -> None:
        page = self._call(api.CONVERSATIONS, campaign_id=Campaign.setup["campaign"],
                          assignee_id=self.texter_id, status=status, limit=50)  # fmt: skip
        for row in (page or {}).get("conversations", []):
            started = time.perf_counter()
            self._call(route, conversation_id=row["conversation_id"],
                       body="Hi, it's a volunteer with the campaign. Can we count on your vote?",
                       idempotency_key=str(uuid.uuid4()))  # fmt: skip
            time.sleep(max(0.0, 1.0 / SEND_RATE - (time.perf_counter() - started)))

    def _call(self, route: Route[Any, Any], as_: BatonClient | None = None, **payload: Any) -> Any:
        """One request, as this texter unless `as_` says otherwise, reported to Locust; its data,
        or None when it was refused."""
        assert Campaign.nats is not None
        caller = as_ if as_ is not None else self.baton
        started = time.perf_counter()
        data: Any = None
        failure: Exception | None = None
        try:
            data = Campaign.nats.run(caller.call_json(route, payload))
        except BatonError as refusal:
            failure = None if refusal.code in NORMAL_REFUSALS else refusal
        except Exception as exc:  # a timeout, no responders: Locust counts it as a failure
            failure = exc
        self.environment.events.request.fire(
            request_type="nats",
            name=route.subject,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=failure,
            context={"texter_id": getattr(self, "texter_id", None)},
        )
        return data
