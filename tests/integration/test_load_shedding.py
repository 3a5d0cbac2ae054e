"""A flood of requests is shed, not queued: nothing starts after its caller's deadline, the work
in flight stays bounded, and a request on another subject is still answered in its usual time.

Issue #15: 20,000 `baton.query.conversations` published at once were all answered, the median
after 24.7 s, long after every caller had given up. Here the flood comes from a process of its
own (tests/support/flood.py), each request with a `Baton-Deadline` the same time after the flood
starts, and the service, which runs in the test's process, is watched while it sheds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import nats
import pytest
from prometheus_client import REGISTRY

from services.assigner.service import DEFINITION as ASSIGNER
from shared.contract import catalogue as api
from shared.runtime.access import Caller
from shared.runtime.admission import WAITING_PER_SLOT
from shared.runtime.client import NoServiceError
from shared.runtime.deadlines import now_ms
from shared.runtime.service import ServiceContext, ServiceDefinition
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import Baton, auth_headers, campaign_with_texters
from tests.support.services import running
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FLOODED = api.CONVERSATIONS.subject
PROBE = api.CAMPAIGN_STATS.subject
# Every probe under the flood is answered `ok` inside the flood's deadline (it is sent by a client
# with that timeout), and their median is at most this many times the quiet median, or this
# long, whichever is more. The flood, the service and its Postgres share two cores, and a probe
# that reaches the service together with the burst waits on the service's one NATS connection
# while the burst ahead of it is read and shed (0.3 to 0.8 s for 20,000 here); after that it
# waits only for a Postgres connection beside the flood's. So this says "answered while the
# flood lasts (its deadline is 2 s), not after it", not how fast: the floor is three quarters of
# the flood's deadline (PROBE_FLOOR_SHARE). It was 0.25 s, which a loaded CI machine's median of 265 ms failed; then
# 1.0 s, which a machine half as fast failed with a median of 1.24 s (two probes, 0.75 and
# 1.73 s, each inside its deadline: reading and shedding the burst took longer there).
PROBE_SLOWDOWN, PROBE_FLOOR_SHARE = 20, 0.75
# Issue #15's flood was 20,000 requests. A machine that cannot read that many in a fraction of
# their deadline (a slow one, or one whose other cores run a Docker build) holds every probe
# behind the burst in the service's one connection until after the deadline: CI saw a probe
# unanswered in 2 s with 59 of 20,000 handled. So the flood is sized to what the service reads
# in half its deadline (machine_sized_flood), and never below FLOOD_LEAST: the flooded subject
# holds at most 48 in flight (three quarters of max_in_flight) and 16 waiting for each of the 64
# slots, about 1,072 at once, so 5,000 arriving faster than they are handled overload it. Where
# even FLOOD_LEAST takes more than half the deadline to read, the deadline is stretched instead.
FLOOD_DEADLINE_MS, FLOOD_MOST, FLOOD_LEAST = 2_000, 20_000, 5_000


def recording_starts(definition: ServiceDefinition, subject: str, starts: list[int]) -> Any:
    """`definition` with the handler of `subject` noting when each execution starts."""

    def endpoints(context: ServiceContext) -> list[Any]:
        found = definition.endpoints(context)
        for i, endpoint in enumerate(found):
            if endpoint.subject == subject:
                handler = endpoint.handler

                async def noted(request: Any, caller: Caller, handler: Any = handler) -> Any:
                    starts.append(now_ms())
                    return await handler(request, caller)

                found[i] = replace(endpoint, handler=noted)
        return found

    return replace(definition, endpoints=endpoints)


class Flood:
    """tests/support/flood.py in a process of its own: started, set going, its result read.

    Used as `async with`: the process is killed on the way out if it has not finished, so a test
    that fails mid-flood leaves no process (nor its pipes) behind for the next test to trip on.
    """

    def __init__(
        self, url: str, owner: int, campaign: int, count: int, deadline_ms: int, pad: int = 0
    ) -> None:
        self.spec = {
            "url": url, "subject": FLOODED, "count": count, "deadline_ms": deadline_ms,
            "payload": json.dumps({"campaign_id": campaign, "limit": 100}), "pad": pad,
            "headers": auth_headers(owner), "wait_s": 1.0,
        }  # fmt: skip
        self.count = count

    async def __aenter__(self) -> Flood:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.flood", json.dumps(self.spec), cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert self.process.stdout is not None
            ready = await asyncio.wait_for(self.process.stdout.readline(), timeout=60)
            assert ready.strip() == b"ready", ready
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.communicate()

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    async def result(self) -> dict[str, Any]:
        out, _ = await asyncio.wait_for(self.process.communicate(), timeout=120)
        assert self.process.returncode == 0
        result: dict[str, Any] = json.loads(out.splitlines()[-1])
        return result


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _expired() -> int:
    return int(_sample("baton_requests_expired_total", service="assigner", subject=FLOODED))


async def _until_all_accounted(flood: Flood, result: dict[str, Any], expired_before: int) -> int:
    """The requests dropped as expired, once every request is answered or dropped."""
    for _ in range(200):
        expired = _expired() - expired_before
        if sum(result["outcomes"].values()) + expired >= flood.count:
            break
        await asyncio.sleep(0.05)
    return expired


def _rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024


class Peaks:
    """The assigner's requests in flight and waiting, and this process's RSS, at their highest
    while the `async with` lasts, sampled every `every_s`."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.rss_before = _rss_mb()
        self.rss = self.in_flight = self.waiting = 0.0

    async def _watch(self) -> None:
        while True:
            self.in_flight = max(
                self.in_flight, _sample("baton_requests_in_flight", service="assigner")
            )
            self.waiting = max(self.waiting, _sample("baton_requests_waiting", service="assigner"))
            self.rss = max(self.rss, _rss_mb())
            await asyncio.sleep(self.every_s)

    async def __aenter__(self) -> Peaks:
        self._watcher = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher


async def machine_sized_flood(url: str, setup: dict[str, Any]) -> tuple[int, int, float]:
    """The flood this machine, as loaded now, can take: how many requests, their deadline in ms
    (FLOOD_DEADLINE_MS, or longer where FLOOD_LEAST takes more than half of it to read), and
    the rate it was sized by, in requests read and dropped a second. The rate is measured with
    a flood whose deadline has already passed, so every request is read and dropped unstarted."""
    sample, expired_before = 4_000, _expired()
    async with Flood(url, setup["owner"], setup["campaign"], sample, deadline_ms=-1_000) as flood:
        flood.go()
        began = time.perf_counter()
        for _ in range(6_000):
            if _expired() - expired_before >= sample:
                break
            await asyncio.sleep(0.01)
        took = time.perf_counter() - began
        await flood.result()
    assert _expired() - expired_before == sample
    rate = sample / took
    count = max(FLOOD_LEAST, min(FLOOD_MOST, int(rate * FLOOD_DEADLINE_MS / 2_000)))
    return count, max(FLOOD_DEADLINE_MS, math.ceil(2_000 * count / rate)), rate


async def _serves_again(nc: nats.NATS, setup: dict[str, Any]) -> float:
    """The service answers again after a flood, once its connection is back; the seconds that
    took. A service cut as a slow consumer reconnects on its own, and on a loaded machine that
    takes a moment (a probe sent at once found nobody listening yet, `no responders`, on a
    four-worker run); one that never comes back fails here."""
    began = time.monotonic()

    async def serves() -> bool:
        try:
            await Baton(nc).call(PROBE, as_user=setup["owner"], campaign_id=setup["campaign"])
        except NoServiceError:
            return False
        return True

    await eventually(serves, within=30)
    return time.monotonic() - began


async def test_a_flood_with_deadlines_is_shed_and_another_subject_still_answers(
    settings: CommonSettings, nc: nats.NATS, nats_url: str
) -> None:
    starts: list[int] = []
    async with running(recording_starts(ASSIGNER, FLOODED, starts), settings):
        setup = await campaign_with_texters(Baton(nc), texters=1, contacts=200)
        count, deadline_ms, shed_rate = await machine_sized_flood(nats_url, setup)
        probe = Baton(nc, timeout=deadline_ms / 1000)

        async def probe_once() -> float:
            """Seconds to the answer; infinite for a probe unanswered within the deadline, so
            that the figures below are printed and judged rather than lost with the error."""
            began = time.perf_counter()
            try:
                await probe.call(PROBE, as_user=setup["owner"], campaign_id=setup["campaign"])
            except TimeoutError:
                return math.inf
            return time.perf_counter() - began

        flood = Flood(nats_url, setup["owner"], setup["campaign"], count, deadline_ms)
        async with flood:
            quiet = [await probe_once() for _ in range(30)]
            assert math.inf not in quiet, quiet
            expired_before = _expired()
            async with Peaks(every_s=0.002) as peaks:
                flood.go()
                went = now_ms()
                flooded: list[float] = []
                while now_ms() < went + deadline_ms + 500:
                    flooded.append(await probe_once())
                    await asyncio.sleep(0.05)
                result = await flood.result()
                expired = await _until_all_accounted(flood, result, expired_before)

    outcomes, deadline = result["outcomes"], result["deadline"]
    # A start in the millisecond after the deadline passed the check in the one before it: the
    # check and this record read the clock apart.
    late_starts = [s for s in starts if s > deadline + 1]
    print(
        f"\nflood: {flood.count} requests (this machine read and dropped {shed_rate:.0f} a second) "
        f"with a {deadline_ms} ms deadline, "
        f"published in {result['published_in']:.2f} s; handled {outcomes.get('ok', 0)} "
        f"(answered after the deadline: {result['answered_late']}), overloaded "
        f"{outcomes.get('overloaded', 0)}, expired unanswered {expired}; handler starts after "
        f"the deadline: {len(late_starts)}; in flight at most {peaks.in_flight:.0f} of "
        f"{settings.max_in_flight}, waiting at most {peaks.waiting:.0f}; service process RSS {peaks.rss_before:.0f} MB before, "
        f"{peaks.rss:.0f} MB at most; probe {PROBE}: quiet median "
        f"{statistics.median(quiet) * 1000:.1f} ms, under the flood median "
        f"{statistics.median(flooded) * 1000:.1f} ms, slowest {max(flooded) * 1000:.1f} ms "
        f"(each in ms: {[f'{f * 1000:.0f}' for f in flooded]})"
    )
    assert late_starts == []
    assert set(outcomes) <= {"ok", "overloaded"}, outcomes
    assert sum(outcomes.values()) + expired == flood.count
    assert peaks.in_flight <= settings.max_in_flight
    assert peaks.waiting <= WAITING_PER_SLOT * settings.max_in_flight
    assert outcomes.get("overloaded", 0) > 0
    allowed = max(PROBE_SLOWDOWN * statistics.median(quiet), PROBE_FLOOR_SHARE * deadline_ms / 1000)
    assert statistics.median(flooded) <= allowed, (flooded, allowed, shed_rate)


async def test_requests_that_waited_past_their_deadline_are_dropped_unstarted(
    settings: CommonSettings, nc: nats.NATS, nats_url: str
) -> None:
    """The service stalls (a long GC pause, a starved CPU, a reconnect) while a flood waits for
    it in NATS; when it reads them again their callers have given up, and none is started."""
    starts: list[int] = []
    async with running(recording_starts(ASSIGNER, FLOODED, starts), settings):
        setup = await campaign_with_texters(Baton(nc), texters=1, contacts=200)
        flood = Flood(nats_url, setup["owner"], setup["campaign"], count=5_000, deadline_ms=1_000)
        async with flood:
            expired_before = _expired()
            flood.go()
            # Blocking on purpose: the whole service stops here, in the middle of the flood.
            time.sleep(2.5)  # noqa: ASYNC251
            result = await flood.result()
        expired = await _until_all_accounted(flood, result, expired_before)
        # ...and it serves as before.
        await _serves_again(nc, setup)

    outcomes, deadline = result["outcomes"], result["deadline"]
    # A start in the millisecond after the deadline passed the check in the one before it: the
    # check and this record read the clock apart.
    late_starts = [s for s in starts if s > deadline + 1]
    print(
        f"\nstalled 2.5 s under {flood.count} requests with a {flood.spec['deadline_ms']} ms "
        f"deadline: expired unanswered {expired}, handled {outcomes.get('ok', 0)}, overloaded "
        f"{outcomes.get('overloaded', 0)}; handler starts after the deadline: {len(late_starts)}"
    )
    assert late_starts == []
    assert sum(outcomes.values()) + expired == flood.count
    assert expired > flood.count // 2


async def test_a_slow_consumer_disconnect_loses_no_accepted_request(
    settings: CommonSettings, nc: nats.NATS, nats_url: str
) -> None:
    """Issue #15: 3,000 requests of 900 KB got the assigner disconnected as a slow consumer, and
    74 got no answer. No reader in Python keeps up with nats-server pushing a gigabyte over
    loopback, so the disconnect is still there (nats-server's per-connection `max_pending`, 64 MB,
    fills in a fraction of a second); what must hold is that it costs nothing accepted: every
    request the service took is run (or dropped as expired) and answered, and every other one
    was never started, so its caller's retry is safe. Answers written into the connection in the
    instant it was cut used to be lost with it (4 to 8 a cut); they are now sent again after the
    reconnect (shared/runtime/recent_answers.py), so every caller whose request was run hears
    back."""
    starts: list[int] = []

    def sent(outcome: str) -> int:
        labels = {"service": "assigner", "subject": FLOODED, "outcome": outcome}
        return int(_sample("baton_requests_total", **labels))

    async with running(recording_starts(ASSIGNER, FLOODED, starts), settings):
        setup = await campaign_with_texters(Baton(nc), texters=1, contacts=200)
        flood = Flood(nats_url, setup["owner"], setup["campaign"], count=1_000,
                      deadline_ms=5_000, pad=900_000)  # fmt: skip
        async with flood:
            before = {o: sent(o) for o in ("ok", "overloaded")}
            expired_before = _expired()
            resent_before = _sample("baton_answers_resent_total", service="assigner")
            async with Peaks(every_s=0.005) as peaks:
                flood.go()
                result = await flood.result()
        # ...and it serves as before: first, so that the answers it sends again once its
        # connection is back are in the counts below.
        back_after = await _serves_again(nc, setup)
        answered = {o: sent(o) - before[o] for o in before}
        expired = _expired() - expired_before
        resent = _sample("baton_answers_resent_total", service="assigner") - resent_before

    outcomes, deadline = result["outcomes"], result["deadline"]
    never_accepted = flood.count - len(starts) - expired - answered["overloaded"]
    lost_with_the_connection = answered["ok"] - outcomes.get("ok", 0)
    print(
        f"\n{flood.count} requests of 900 KB: started {len(starts)} (answered {answered['ok']}, "
        f"received {outcomes.get('ok', 0)}, lost in the cut {lost_with_the_connection}, sent again after it {resent:.0f}), overloaded {answered['overloaded']} (received "
        f"{outcomes.get('overloaded', 0)}), expired {expired}, never reached the service or "
        f"dropped before acceptance {never_accepted} (of them told `no responders` "
        f"{outcomes.get('no_responders', 0)}); in flight at most {peaks.in_flight:.0f}, "
        f"waiting at most {peaks.waiting:.0f}; service process RSS {peaks.rss_before:.0f} MB before, "
        f"{peaks.rss:.0f} MB at most; answering again {back_after:.1f} s after the flood"
    )
    assert [s for s in starts if s > deadline] == []
    assert len(starts) == answered["ok"]
    # Answers written into the connection as it was cut are sent again after the reconnect.
    assert lost_with_the_connection == 0, (answered, outcomes, resent)
    assert outcomes.get("overloaded", 0) <= answered["overloaded"]
    assert peaks.in_flight <= settings.max_in_flight
