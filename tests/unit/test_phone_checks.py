"""An import's numbers checked in worker processes answer as checked in place, in order; a worker
that dies costs its part nothing; the workers go when the service stops."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from services.assigner.phone_checks import IN_PLACE_BELOW, PhoneChecks, check
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


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


async def test_parts_being_checked_when_the_service_stops_are_answered_and_later_ones_too() -> None:
    phones = numbers(IN_PLACE_BELOW * 20)
    checks = PhoneChecks("US", processes=2)
    stop = asyncio.Event()
    running = asyncio.create_task(checks.run(stop))
    expected = check(phones, "US")
    in_flight = [asyncio.create_task(checks.checked(phones)) for _ in range(3)]
    await asyncio.sleep(0.2)  # the parts are in the workers' hands
    stop.set()
    await asyncio.sleep(0)
    after_stop = await checks.checked(phones[: IN_PLACE_BELOW * 2])  # checked in place
    assert [await part for part in in_flight] == [expected] * 3
    assert after_stop == expected[: IN_PLACE_BELOW * 2]
    await running


WORKERS_OF_A_KILLED_PARENT = """
import asyncio, sys
from services.assigner.phone_checks import IN_PLACE_BELOW, PhoneChecks

async def main() -> None:
    checks = PhoneChecks("US", processes=2)
    await checks.checked(["+16505550123"] * IN_PLACE_BELOW)
    print(" ".join(str(p.pid) for p in checks._started()._processes.values()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_workers_leave_when_the_assigner_is_killed() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WORKERS_OF_A_KILLED_PARENT, stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )  # fmt: skip
    assert parent.stdout is not None
    line = await asyncio.wait_for(parent.stdout.readline(), timeout=60)
    workers = [int(pid) for pid in line.split()]
    assert len(workers) == 2 and all(alive(pid) for pid in workers)
    parent.kill()
    await parent.wait()
    await eventually(lambda: asyncio.sleep(0, not any(alive(pid) for pid in workers)), within=10)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(") ")[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
