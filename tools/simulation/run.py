"""Set up a campaign over the admin subjects, run texters and the bridge until every contact got
an initial and every reply an answer (or the time limit), then check the invariants.

The texts go through Baton's own provider bridge and the provider simulator when the Baton runs
them (`provider`: tools/simulation/through_provider.py), else through the simulation's
in-process stand-in bridge (tools/simulation/bridge.py); never both, so none is taken twice.

Everyone calls as themselves, each with a token minted by `signer` (a key the services verify):
the operator creates the organization and its owner, the owner (the organizer) sets the campaign
up, reassigns and reads the statistics, and each texter joins, requests and sends as that texter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError
from shared.contract.schemas import admin, assign, query
from shared.contract.schemas.messaging import Send
from shared.runtime.client import BatonClient
from shared.runtime.tokens import TokenSigner
from tools.simulation.bridge import Bridge
from tools.simulation.contacts import Contacts
from tools.simulation.progress import Progress
from tools.simulation.scenario import Scenario
from tools.simulation.setup import CampaignSpec, acting, set_up_campaign
from tools.simulation.simulator_link import SimulatorLink
from tools.simulation.texter import Texter
from tools.simulation.through_provider import ThroughProvider


class Carrier(Protocol):
    """What carries the campaign's texts to its contacts and their answers back."""

    contacts: Contacts
    # What the report calls the texts it took.
    taken: str

    @property
    def described(self) -> str: ...
    async def start(self) -> None: ...  # takes what is published from now on
    async def run(self, stop: asyncio.Event) -> None: ...
    async def verdict(self, expected: set[int]) -> tuple[dict[str, int], dict[str, bool]]: ...


@dataclass
class Report:
    # Which bridge carried the texts.
    bridge: str = ""
    seconds: float = 0.0
    finished: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    send_latency_ms: dict[str, float] = field(default_factory=dict)
    request_latency_ms: dict[str, float] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    released: int = 0
    reassigned: int = 0
    invariants: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.finished and all(self.invariants.values())


async def set_up(client: BatonClient, signer: TokenSigner, scenario: Scenario) -> dict[str, Any]:
    """The scenario's campaign (tools/simulation/setup.py), with an invite link its texters
    join by."""
    contacts = [
        admin.ContactRow(phone=f"+1{2022000000 + n}", first_name=f"Contact {n}")
        for n in range(scenario.contacts)
    ]
    setup = await set_up_campaign(
        client,
        signer,
        CampaignSpec(
            contacts=contacts,
            texters=scenario.texters,
            batch_size=scenario.batch_size,
            replies_batch_size=50,
            enroll_texters=False,
            release_unhandled_after_minutes=scenario.release_after_minutes,
            title="Simulated campaign",
            org_name="Simulated org",
        ),
    )
    organizer = acting(client, signer, setup.owner)
    invite = admin.CreateInvite(campaign_id=setup.campaign, kind="initials")
    token = (await organizer.call(api.CAMPAIGN_INVITE, invite)).token
    return {
        "org": setup.org,
        "owner": setup.owner,
        "texters": setup.texters,
        "campaign": setup.campaign,
        "token": token,
        "sending_number": setup.sending_number,
    }


async def simulate(
    nc: NatsClient,
    client: BatonClient,
    signer: TokenSigner,
    scenario: Scenario,
    on_progress: Callable[[Progress], None] | None = None,
    provider: SimulatorLink | None = None,
) -> Report:
    """`client` is the connection the parties share; `signer` mints each one's tokens;
    `provider`: the simulator Baton's own bridge sends to, when it runs one."""
    report = Report()
    setup = await set_up(client, signer, scenario)
    campaign = setup["campaign"]
    organizer = acting(client, signer, setup["owner"])
    unresponsive = round(scenario.texters * scenario.unresponsive)
    texters = [
        Texter(
            acting(client, signer, t), campaign, t, scenario.send_rate, responsive=i >= unresponsive
        )
        for i, t in enumerate(setup["texters"])
    ]
    rates = (scenario.reply_rate, scenario.stop_rate)
    bridge: Carrier = (
        Bridge(nc, campaign, setup["sending_number"], *rates)
        if provider is None
        else ThroughProvider(nc, campaign, setup["sending_number"], provider, *rates)
    )
    report.bridge = bridge.described
    contacts = bridge.contacts
    released: list[int] = []

    async def on_release(msg: Any) -> None:
        released.extend(json.loads(msg.data)["conversation_ids"])

    # Each event is on a subject of its own, its id last (shared/runtime/outbox.py).
    events = await nc.subscribe(api.CONVERSATIONS_RELEASED.pattern, cb=on_release)
    stop = asyncio.Event()
    started = time.monotonic()
    bridge_stop = asyncio.Event()  # the bridge outlives the texters: it takes the last texts
    tasks: list[asyncio.Task[None]] = []
    try:
        await bridge.start()  # before any texter sends
        bridge_task = asyncio.create_task(bridge.run(bridge_stop))
        tasks = [bridge_task] + [asyncio.create_task(t.run(setup["token"], stop)) for t in texters]
        reassigned = quiet_before = False
        while time.monotonic() - started < scenario.time_limit_seconds:
            await asyncio.sleep(1)
            failed = [t.exception() for t in tasks if t.done() and t.exception() is not None]
            if failed or contacts.failed is not None:
                raise RuntimeError("a simulated party failed") from (failed or [contacts.failed])[0]
            if (
                not reassigned
                and time.monotonic() - started >= scenario.reassign_after_seconds
                and len(texters) > 1
            ):
                report.reassigned = await _reassign_once(organizer, setup)
                reassigned = True
            # Looked at before the counts: what was on its way then is in them.
            in_transit = contacts.replying or not {m for t in texters for m in t.sent} <= set(
                contacts.delivered
            )
            stats = await organizer.call(
                api.CAMPAIGN_STATS, query.CampaignStatsRequest(campaign_id=campaign)
            )
            if on_progress is not None:
                on_progress(
                    Progress(
                        seconds=round(time.monotonic() - started, 1),
                        contacts=scenario.contacts,
                        by_status=dict(stats.by_status),
                        texts_sent=sum(len(t.sent) for t in texters),
                        replies=contacts.replies,
                        released=len(released),
                    )
                )
            # Done when nothing is left to answer, and nothing was on its way that could make more
            # (a text not yet delivered, a contact's reply), twice in a row: a reply the bridge
            # took may take a moment more to reach its conversation.
            done = (
                stats.by_status["not_started"] == 0
                and stats.by_status["needs_reply"] == 0
                and all(t.idle for t in texters)
                and not in_transit
            )
            if done and quiet_before:
                report.finished = True
                break
            quiet_before = done
        stop.set()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
        await _all_delivered(contacts, [m for t in texters for m in t.sent])
    finally:
        # However the run ends (a call that failed included): every party stops, and nothing it
        # subscribed to outlives it on a connection its caller may go on using.
        stop.set()
        bridge_stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(nats.errors.Error):
            await events.unsubscribe()
    report.seconds = round(time.monotonic() - started, 1)
    report.released = len(released)
    await _conclude(
        report, organizer, lambda user: acting(client, signer, user), nc, setup, texters, bridge
    )
    return report


# How long the final wait goes on with nothing new reaching the bridge before it gives up.
QUIET_SECONDS = 60.0


async def _all_delivered(contacts: Contacts, accepted: list[int]) -> None:
    """All work completes before it is judged: a sender killed between commit and publish leaves
    its outbox rows leased for 30 s, after which the restarted one sends them. Each STOP's
    confirmation is awaited too, and so is every reply still on its way: a STOP sent after the
    counts matched would otherwise be judged without its confirmation. The wait lasts while
    texts keep arriving (a run cut by its time limit may leave a backlog), and ends after
    `QUIET_SECONDS` with none."""
    expected = set(accepted)
    deadline = time.monotonic() + QUIET_SECONDS
    seen = len(contacts.delivered)
    while (
        not expected <= contacts.delivered.keys()
        or len(contacts.confirmations) < len(contacts.stops)
        or contacts.replying
    ):
        if len(contacts.delivered) != seen:
            seen = len(contacts.delivered)
            deadline = time.monotonic() + QUIET_SECONDS
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        contacts.delivery.clear()
        with contextlib.suppress(TimeoutError):  # a reply finishing sets nothing: look again
            await asyncio.wait_for(contacts.delivery.wait(), min(remaining, 0.2))


async def _reassign_once(organizer: BatonClient, setup: dict[str, Any]) -> int:
    """The organizer moves the first texter's conversations to the second (Reassign All)."""
    result = await organizer.call(
        api.REASSIGN,
        assign.Reassign(
            campaign_id=setup["campaign"],
            from_texter_id=setup["texters"][0],
            status="any",
            to_texter_ids=[setup["texters"][1]],
        ),
    )
    return result.moved


async def _conclude(
    report: Report,
    client: BatonClient,
    as_texter: Callable[[int], BatonClient],
    nc: NatsClient,
    setup: dict[str, Any],
    texters: list[Texter],
    bridge: Carrier,
) -> None:
    campaign = setup["campaign"]
    stats = await client.call(api.CAMPAIGN_STATS, query.CampaignStatsRequest(campaign_id=campaign))
    report.stats = msgspec.to_builtins(stats)
    accepted = [m for t in texters for m in t.sent]
    contacts = bridge.contacts
    distinct = set(accepted)
    # This campaign's texts only: a Baton may carry other campaigns' meanwhile, or earlier runs'.
    carried, carried_well = await bridge.verdict(distinct | contacts.confirmations)
    report.messages = {
        "sent": len(accepted),
        **carried,
        bridge.taken: len(contacts.delivered),
        "replies": contacts.replies,
        "stops": len(contacts.stops),
        "opt_out_confirmations": len(contacts.confirmations),
    }
    report.send_latency_ms = _percentiles_ms([x for t in texters for x in t.latencies])
    report.request_latency_ms = _percentiles_ms([x for t in texters for x in t.request_latencies])
    refusals: Counter[str] = Counter()
    for t in texters:
        refusals.update(t.refusals)
    report.refusals = dict(refusals)
    held: Counter[int] = Counter()
    for texter in setup["texters"]:
        after = 0
        while True:
            page = await client.call(
                api.CONVERSATIONS,
                query.ListConversations(
                    campaign_id=campaign, assignee_id=texter, limit=1000, after=after
                ),
            )
            held.update(row.conversation_id for row in page.conversations)
            if page.next_after is None:
                break
            after = page.next_after
    still_reachable = 0
    for conversation in contacts.stops.values():
        page = await client.call(
            api.CONVERSATIONS,
            query.ListConversations(campaign_id=campaign, after=conversation - 1, limit=1),
        )
        row = page.conversations[0]
        if row.status != "closed" or row.assignee_id is None:
            still_reachable += row.status != "closed"
            continue
        try:
            # As the texter who holds it: only the holder may text a contact.
            await as_texter(row.assignee_id).call(
                api.SEND_REPLY,
                Send(
                    conversation_id=conversation,
                    body="one more?",
                    idempotency_key=f"check-{conversation}",
                ),
            )
            still_reachable += 1
        except BatonError as refusal:
            still_reachable += refusal.code != ErrorCode.OPTED_OUT
    report.invariants = {
        "no conversation held by two texters": all(n == 1 for n in held.values()),
        "every text accepted once": len(distinct) == len(accepted),
        **carried_well,
        "every opted-out contact got one confirmation": (
            len(contacts.confirmations) == len(contacts.stops)
        ),
        "no opted-out contact can be texted again": still_reachable == 0,
        "every contact got an initial": report.stats["by_status"]["not_started"] == 0,
    }


def _percentiles_ms(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ordered = sorted(seconds)
    return {
        "p50": round(statistics.median(ordered) * 1000, 1),
        "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000, 1),
    }


def render(report: Report) -> str:
    lines = [
        f"bridge: {report.bridge}",
        f"finished: {report.finished} in {report.seconds} s",
        f"conversations by status: {report.stats.get('by_status')}",
        f"messages: {report.messages}",
        f"send latency (ms): {report.send_latency_ms}",
        f"batch request latency (ms): {report.request_latency_ms}",
        f"released by the reaper: {report.released}; reassigned: {report.reassigned}",
        "refusals texters saw: "
        + (", ".join(f"{code} {n}" for code, n in sorted(report.refusals.items())) or "none"),
        "invariants:",
        *(f"  [{'ok' if good else 'FAILED'}] {name}" for name, good in report.invariants.items()),
    ]
    return "\n".join(lines)
