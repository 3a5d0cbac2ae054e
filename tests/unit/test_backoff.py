"""The one back-off every retry loop waits through: doubling, capped, jittered, never zero."""

from __future__ import annotations

import asyncio
import random

from shared.runtime.backoff import Backoff


def test_delays_double_up_to_the_cap_each_between_half_the_ceiling_and_the_ceiling() -> None:
    backoff = Backoff(base=0.1, cap=2.0, _random=random.Random(7))
    ceilings = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
    for ceiling in ceilings:
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.failures == len(ceilings)


def test_replicas_failing_together_do_not_retry_in_step() -> None:
    replicas = [Backoff(base=1.0, cap=30.0, _random=random.Random(seed)) for seed in range(20)]
    for _ in range(5):
        delays = [replica.next_delay() for replica in replicas]
    assert len({round(d, 3) for d in delays}) == len(replicas)
    assert max(delays) - min(delays) > 2.0  # spread over the upper half of a 16 s ceiling


def test_a_success_starts_the_next_outage_from_the_base() -> None:
    backoff = Backoff(base=0.5, cap=10.0)
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_a_huge_number_of_failures_stays_at_the_cap() -> None:
    backoff = Backoff(base=0.1, cap=3.0, failures=10_000)
    assert 1.5 <= backoff.next_delay() <= 3.0


async def test_a_wait_ends_when_the_service_is_told_to_stop() -> None:
    stop = asyncio.Event()
    backoff = Backoff(base=60.0, cap=60.0)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, stop.set)
    started = loop.time()
    drawn = await backoff.wait(stop)
    assert drawn >= 30.0
    assert loop.time() - started < 5.0
