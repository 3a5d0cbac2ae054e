"""Imported contacts' phone numbers, checked in worker processes.

An import's parts are staged side by side (services/assigner/contacts.py); checking their numbers
in the assigner's event loop would hold every other request it serves meanwhile (claims, sends'
reads) for as long as a part takes: 47 ms for 10,000 numbers already in E.164, 170 ms written any
other way. Worker processes check them on every core the machine has, while the event loop goes
on. A few numbers (a request's own import) are checked in place: the hop costs more than they do.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import structlog

from shared.domain.phones import InvalidPhoneError, to_e164

log = structlog.get_logger(__name__)
# (the number in E.164, None), or (None, why it cannot be imported).
Checked = tuple[str | None, str | None]
# Fewer numbers than this are checked in place.
IN_PLACE_BELOW = 2_000
# How often a worker looks whether the assigner that started it is still there.
PARENT_CHECK_SECONDS = 1.0


def check(phones: list[str], region: str) -> list[Checked]:
    """Each number in E.164, or the reason it is refused. Runs in a worker process."""
    checked: list[Checked] = []
    for raw in phones:
        try:
            checked.append((to_e164(raw, region), None))
        except InvalidPhoneError as exc:
            checked.append((None, f"invalid_phone: {exc}"))
    return checked


def _leave_with(parent: int) -> None:
    """In each worker: exit once the assigner is gone. A worker holds both ends of its own call
    queue's pipe, so the assigner's death (kill -9, out of memory) never reaches its read as an
    end of file, and it would live on, re-parented, beside every restart's new workers."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="leave-with-assigner", daemon=True).start()


class PhoneChecks:
    def __init__(self, region: str, processes: int) -> None:
        """`processes`: worker processes, started at the first import that needs them (0: every
        number is checked in the assigner's own process)."""
        self._region = region
        self._processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._stopping = False

    async def checked(self, phones: list[str]) -> list[Checked]:
        if self._processes == 0 or self._stopping or len(phones) < IN_PLACE_BELOW:
            return check(phones, self._region)
        executor = self._started()
        loop = asyncio.get_running_loop()
        size = math.ceil(len(phones) / self._processes)
        try:
            parts = await asyncio.gather(
                *(
                    loop.run_in_executor(executor, check, phones[i : i + size], self._region)
                    for i in range(0, len(phones), size)
                )
            )
        except BrokenProcessPool:
            # A worker died (killed, out of memory): new workers for the next part; this one is
            # checked here rather than failed.
            log.warning("phone_check_workers_lost", processes=self._processes)
            self._executor = None
            executor.shutdown(wait=False)  # its threads and its surviving workers go too
            return check(phones, self._region)
        return [each for part in parts for each in part]

    def _started(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # Spawned, not forked: a fork of a process running an event loop, asyncpg's pool
            # and NATS's connection would copy all three into each worker.
            self._executor = ProcessPoolExecutor(
                self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_leave_with,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def run(self, stop: asyncio.Event) -> None:
        """Beside the service: the workers go when it stops, once the parts they are checking
        are done (the service answers the requests it holds before it exits); a part arriving
        meanwhile is checked in place."""
        await stop.wait()
        self._stopping = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)
