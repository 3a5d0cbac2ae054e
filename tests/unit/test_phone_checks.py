"""An import's numbers checked in worker processes answer as checked in place, in order; a worker
that dies costs its part nothing; the workers go when the service stops."""

from __future__ import annotations

import asyncio
import os
import signal

from services.assigner.phone_checks import IN_PLACE_BELOW, PhoneChecks, check


def numbers(count: int) -> list[str]:
    # E.164 and national forms, valid and not, so both the fast path and the library's are used.
    forms = ("+1650{:07d}", "(650) {:03d}-0123", "+1011{:07d}", "not a phone {}", "+4420{:08d}")
    return [forms[n % len(forms)].format(n % 1000 if "(" in forms[n % len(forms)] else n)
            for n in range(count)]  # fmt: skip


async def test_workers_answer_as_the_check_in_place_does_in_order() -> None:
    phones = numbers(IN_PLACE_BELOW * 3 + 7)
    checks = PhoneChecks("US", processes=2)
    stop = asyncio.Event()
    running = asyncio.create_task(checks.run(stop))
    try:
        answered = await checks.checked(phones)
    finally:
        stop.set()
        await running
    assert answered == check(phones, "US")
    assert {phone is None for phone, _ in answered} == {True, False}
    assert all(reason.startswith("invalid_phone: ") for phone, reason in answered
               if phone is None and reason is not None)  # fmt: skip


async def test_a_worker_killed_costs_its_part_nothing_and_new_workers_come() -> None:
    phones = numbers(IN_PLACE_BELOW * 2)
    checks = PhoneChecks("US", processes=2)
    stop = asyncio.Event()
    running = asyncio.create_task(checks.run(stop))
    try:
        expected = await checks.checked(phones)
        executor = checks._started()
        workers = list(executor._processes.values())
        assert len(workers) == 2
        assert workers[0].pid is not None
        os.kill(workers[0].pid, signal.SIGKILL)
        await asyncio.to_thread(workers[0].join, 10)
        assert await checks.checked(phones) == expected  # checked in place this once
        assert checks._started() is not executor  # new workers for the next part
        assert await checks.checked(phones) == expected
        replacements = list(checks._started()._processes.values())
    finally:
        stop.set()
        await running
    # Stopped: the workers are gone.
    assert replacements
    for worker in replacements:
        await asyncio.to_thread(worker.join, 10)
        assert not worker.is_alive()
