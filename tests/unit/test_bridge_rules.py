"""The bridge's pure rules: Twilio's codes by class, its settings, a lane's room (issue #31)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import time

import pytest

from services.bridge.lanes import Lanes
from services.bridge.settings import (
    WEBHOOK_ANSWER_MARGIN_SECONDS,
    WEBHOOK_PATIENCE_SECONDS,
    BridgeSettings,
)
from shared.contract.catalogue import CORE_SERVICE_NAMES
from shared.domain.provider_codes import (
    TELNYX_CODES,
    TWILIO_CODES,
    is_carrier_opt_out,
    telnyx_outcome,
    twilio_outcome,
)
from shared.runtime.deployed import deployed_services
from shared.runtime.settings import SettingsError, load_settings
from tools.cli.supervisor import service_processes

TWILIO = {"BATON_BRIDGE_PROVIDER": "twilio", "BATON_TWILIO_ACCOUNT_SID": "AC1",
          "BATON_TWILIO_AUTH_TOKEN": "secret-token"}  # fmt: skip
TELNYX = {"BATON_BRIDGE_PROVIDER": "telnyx", "BATON_TELNYX_API_KEY": "KEYsecret",
          "BATON_TELNYX_PUBLIC_KEY": base64.b64encode(bytes(32)).decode()}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "code", "kind", "named", "maybe_taken"),
    [
        (429, 20429, "retry", "twilio:20429", False),
        (429, None, "retry", "twilio:http_429", False),
        (400, 30001, "retry", "twilio:30001", False),
        (400, 21611, "retry", "twilio:21611", False),
        (503, None, "retry", "twilio:http_503", True),
        (500, 20500, "retry", "twilio:20500", True),
        (400, 21211, "final", "twilio:21211", False),
        (400, 21614, "final", "twilio:21614", False),
        (400, 30007, "final", "twilio:30007", False),
        (400, 21610, "opt_out", "twilio:21610", False),
        (400, 39999, "final", "twilio:39999", False),
        (404, 404, "final", "twilio:http_404", False),
    ],
)
def test_twilio_answers_are_classified_by_code(
    status: int, code: int | None, kind: str, named: str, maybe_taken: bool
) -> None:
    outcome = twilio_outcome(status, code)
    assert (outcome.kind, outcome.code, outcome.maybe_taken) == (kind, named, maybe_taken)
    assert outcome.known == (code in TWILIO_CODES or status == 429 or status >= 500)


@pytest.mark.parametrize(
    ("status", "code", "kind", "named", "maybe_taken"),
    [
        (429, 10011, "retry", "telnyx:10011", False),
        (429, None, "retry", "telnyx:http_429", False),
        (400, 40011, "retry", "telnyx:40011", False),
        (503, None, "retry", "telnyx:http_503", True),
        (500, 10007, "retry", "telnyx:10007", True),
        # A second request with an Idempotency-Key still in hand: maybe taken, never failed.
        (409, None, "retry", "telnyx:http_409", True),
        (400, 40310, "final", "telnyx:40310", False),
        (400, 40001, "final", "telnyx:40001", False),
        (400, 40002, "final", "telnyx:40002", False),
        (400, 40003, "final", "telnyx:40003", False),
        (400, 40008, "final", "telnyx:40008", False),
        (409, 40300, "opt_out", "telnyx:40300", False),
        (401, 10009, "credentials", "telnyx:10009", False),
        (403, 10010, "credentials", "telnyx:10010", False),
        (400, 49999, "final", "telnyx:49999", False),
    ],
)
def test_telnyx_answers_are_classified_by_code(
    status: int, code: int | None, kind: str, named: str, maybe_taken: bool
) -> None:
    outcome = telnyx_outcome(status, code)
    assert (outcome.kind, outcome.code, outcome.maybe_taken) == (kind, named, maybe_taken)
    assert outcome.known == (code in TELNYX_CODES or status in (409, 429) or status >= 500)


def test_only_the_carriers_opt_out_code_opts_out() -> None:
    assert is_carrier_opt_out("twilio:21610")
    assert is_carrier_opt_out("telnyx:40300")
    assert not is_carrier_opt_out("telnyx:21610")
    assert not is_carrier_opt_out("twilio:40300")
    assert not is_carrier_opt_out("twilio:30007")
    assert not is_carrier_opt_out("21610")  # codes are namespaced by provider
    assert not is_carrier_opt_out(None)


def test_settings_need_a_provider_and_its_credentials_and_never_show_the_token() -> None:
    settings = load_settings(BridgeSettings, TWILIO)
    assert (settings.bridge_http_port, settings.bridge_default_rate) == (8088, 1.0)
    assert settings.twilio_api_url == "https://api.twilio.com"
    assert "secret-token" not in repr(settings)
    with pytest.raises(SettingsError, match="BATON_BRIDGE_PROVIDER"):
        load_settings(BridgeSettings, {})
    with pytest.raises(SettingsError, match="BATON_TELNYX_API_KEY"):
        load_settings(BridgeSettings, {"BATON_BRIDGE_PROVIDER": "telnyx"})
    with pytest.raises(SettingsError, match="BATON_TWILIO_AUTH_TOKEN"):
        load_settings(BridgeSettings, {**TWILIO, "BATON_TWILIO_AUTH_TOKEN": ""})
    with pytest.raises(SettingsError, match="BATON_BRIDGE_DEFAULT_RATE"):
        load_settings(BridgeSettings, {**TWILIO, "BATON_BRIDGE_DEFAULT_RATE": "0"})


def test_telnyx_settings_need_a_key_and_a_webhook_public_key_and_never_show_the_key(
    tmp_path: pytest.TempPathFactory,
) -> None:
    settings = load_settings(BridgeSettings, TELNYX)
    assert settings.telnyx_api_url == "https://api.telnyx.com/v2"
    assert settings.telnyx_key() == "KEYsecret"
    assert "KEYsecret" not in repr(settings)
    with pytest.raises(SettingsError, match="BATON_TELNYX_PUBLIC_KEY"):
        load_settings(BridgeSettings, {**TELNYX, "BATON_TELNYX_PUBLIC_KEY": ""})
    with pytest.raises(SettingsError, match="BATON_TELNYX_PUBLIC_KEY"):
        load_settings(BridgeSettings, {**TELNYX, "BATON_TELNYX_PUBLIC_KEY": "bm90IGEga2V5"})
    with pytest.raises(SettingsError, match="BATON_TELNYX_API_KEY"):
        load_settings(BridgeSettings, {**TELNYX, "BATON_TELNYX_API_KEY_FILE": "/k"})
    secret = tmp_path / "key"  # type: ignore[operator]
    secret.write_text("KEYfromfile\n")
    env = {**TELNYX, "BATON_TELNYX_API_KEY": "", "BATON_TELNYX_API_KEY_FILE": str(secret)}
    assert load_settings(BridgeSettings, env).telnyx_key() == "KEYfromfile"


def test_the_spool_write_is_bounded_inside_each_providers_patience() -> None:
    """Telnyx waits 2 s for a webhook's 2xx: the default write timeout leaves room for the
    INBOUND publish after it, and a longer one is refused under Telnyx, not under Twilio."""
    for env in (TWILIO, TELNYX):
        settings = load_settings(BridgeSettings, env)
        patience = WEBHOOK_PATIENCE_SECONDS[settings.bridge_provider]
        assert (
            settings.bridge_spool_write_timeout_seconds <= patience - WEBHOOK_ANSWER_MARGIN_SECONDS
        )
    longer = {"BATON_BRIDGE_SPOOL_WRITE_TIMEOUT_SECONDS": "1.8"}
    under_twilio = load_settings(BridgeSettings, {**TWILIO, **longer})
    assert under_twilio.bridge_spool_write_timeout_seconds == 1.8
    with pytest.raises(SettingsError, match=r"at most 1\.5 under telnyx"):
        load_settings(BridgeSettings, {**TELNYX, **longer})


def test_the_token_may_come_from_a_file(tmp_path: pytest.TempPathFactory) -> None:
    secret = tmp_path / "token"  # type: ignore[operator]
    secret.write_text("from-a-file\n")
    env = {**TWILIO, "BATON_TWILIO_AUTH_TOKEN": "", "BATON_TWILIO_AUTH_TOKEN_FILE": str(secret)}
    assert load_settings(BridgeSettings, env).twilio_token() == "from-a-file"


async def test_a_full_lane_refuses_more_and_other_lanes_are_untouched() -> None:
    release = asyncio.Event()
    sent: list[tuple[str, int]] = []

    async def send(lane: str, item: int) -> None:
        sent.append((lane, item))
        await release.wait()

    lanes: Lanes[int] = Lanes(send, lambda lane: 2.0 if lane == "busy" else 1.0, 1.5)
    assert lanes.capacity("busy") == 3 and lanes.capacity("quiet") == 2
    assert [lanes.admit("busy", i) for i in range(3)] == [None, None, None]
    wait = lanes.admit("busy", 3)
    assert wait == pytest.approx(1.5)  # three held at two a second
    assert lanes.admit("quiet", 10) is None
    await asyncio.sleep(0)
    assert lanes.held == 4 and sorted(sent) == [
        ("busy", 0),
        ("busy", 1),
        ("busy", 2),
        ("quiet", 10),
    ]
    release.set()
    await lanes.finish(grace_seconds=5)
    assert lanes.held == 0 and lanes.admit("busy", 4) is None
    await lanes.finish(grace_seconds=5)


async def _left(lanes: Lanes[int], key: str) -> None:
    """One provider call of `key`'s lane that takes no time: its slot, and out."""
    async with lanes.slot(key):
        pass


async def test_slots_are_one_rate_apart_per_lane_and_lanes_are_independent() -> None:
    now = [100.0]  # a clock that stands still: only the reservations move

    async def send(_lane: str, _item: int) -> None:
        return None

    lanes: Lanes[int] = Lanes(send, lambda _: 4.0, 10, lambda: now[0])
    await _left(lanes, "a")  # the first call of a lane leaves at once
    second = asyncio.create_task(_left(lanes, "a"))
    await asyncio.sleep(0)
    assert not second.done()  # a quarter of a second after the first
    third = asyncio.create_task(_left(lanes, "a"))
    await asyncio.sleep(0)
    assert lanes.backlog() == {"a": 0}
    await asyncio.wait_for(_left(lanes, "b"), timeout=0.1)  # lane b is behind nothing of a's
    assert not third.done()
    await second
    await third


async def test_a_lanes_second_call_leaves_a_full_slot_after_its_first() -> None:
    """Only a sleep's overshoot is absorbed, never a quarter of a slot: the second call leaves a
    whole slot after the first (it left after three quarters of one, every lane's first two calls
    over the rate in bench.bridge's default_rate run)."""
    now = [100.0]

    async def send(_lane: str, _item: int) -> None:
        return None

    lanes: Lanes[int] = Lanes(send, lambda _: 4.0, 10, lambda: now[0])
    await _left(lanes, "a")
    now[0] += 0.8 / 4.0  # four fifths of a slot later
    second = asyncio.create_task(_left(lanes, "a"))
    await asyncio.sleep(0)
    assert not second.done()  # waits for the fifth still due
    await second


async def test_calls_held_up_by_a_stall_leave_one_slot_apart_not_together() -> None:
    """A blocked event loop (here 0.5 s) wakes every waiting call at once; they must still leave
    one slot apart, as a carrier counts them, not in a burst that catches up the lost time."""

    async def send(_lane: str, _item: int) -> None:
        return None

    rate = 20.0
    lanes: Lanes[int] = Lanes(send, lambda _: rate, 10)
    left: list[float] = []

    async def call() -> None:
        await _left(lanes, "a")
        left.append(time.monotonic())

    calls = [asyncio.create_task(call()) for _ in range(10)]
    await asyncio.sleep(0.01)  # the first has left; the rest wait for their slots
    time.sleep(0.5)  # noqa: ASYNC251 - the stall under test
    await asyncio.gather(*calls)
    gaps = [later - earlier for earlier, later in itertools.pairwise(left)]
    # Every gap about three quarters of a slot or more (a sleep's overshoot is absorbed from the
    # next one); before, the calls due during the stall left within a millisecond of each other.
    assert min(gaps) >= 0.7 / rate, gaps


async def test_a_call_that_waited_for_a_place_counts_its_next_slot_from_when_it_left() -> None:
    """With every place taken (the HTTP client's connections), a lane's calls wait for one after
    their slot has come; once they get one they must still leave a slot apart, not back to back
    because their slots are past (they would reach the carrier together)."""

    async def send(_lane: str, _item: int) -> None:
        return None

    rate = 10.0
    lanes: Lanes[int] = Lanes(send, lambda _: rate, 10, calls_at_once=1)
    busy = asyncio.Event()
    left: list[float] = []

    async def long_call() -> None:
        async with lanes.slot("b"):
            busy.set()
            await asyncio.sleep(0.3)

    async def call() -> None:
        async with lanes.slot("a"):
            left.append(time.monotonic())

    holder = asyncio.create_task(long_call())
    await busy.wait()
    started = time.monotonic()
    await asyncio.gather(call(), call(), call())
    await holder
    assert left[0] - started >= 0.25  # the first waited for the one place
    gaps = [later - earlier for earlier, later in itertools.pairwise(left)]
    assert min(gaps) >= 0.9 / rate, gaps


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_baton_up_runs_the_bridge_only_where_a_provider_is_configured(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_BRIDGE_PROVIDER", raising=False)
    core = service_processes("postgresql://db", "nats://nats", 9101)
    assert [(p.name, p.metrics_port) for p in core] == [
        ("assigner", 9101), ("sender", 9102), ("inbound", 9103), ("reaper", 9104)]  # fmt: skip
    assert deployed_services() == CORE_SERVICE_NAMES
    monkeypatch.setenv("BATON_BRIDGE_PROVIDER", provider)
    with_bridge = service_processes("postgresql://db", "nats://nats", 9101)
    assert [(p.name, p.metrics_port) for p in with_bridge][-1] == ("bridge", 9105)
    assert with_bridge[-1].env["BATON_BRIDGE_PROVIDER"] == provider
    assert deployed_services() == (*CORE_SERVICE_NAMES, "bridge")
