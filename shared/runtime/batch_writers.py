"""A line of waiting work and a few writers that take it in batches: the loop under every group
commit (the sender's sends, the assigner's claims).

Work arrives and waits in line; the first free writer takes a batch of what is waiting (the
caller's `take` decides what goes together) and commits it. At low load a writer is free, so a
batch is one item and nothing waits for a timer; under load the line fills while the writers
work, so commits per second stay near the number of writers while the items per commit grow.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, Protocol, TypeVar

Item = TypeVar("Item")


class Answerable(Protocol):
    """A waiting item whose requester awaits `answer`."""

    @property
    def answer(self) -> asyncio.Future[Any]: ...


class BatchWriters(Generic[Item]):
    def __init__(
        self,
        take: Callable[[deque[Item]], list[Item]],
        commit: Callable[[list[Item]], Awaitable[None]],
        writers: int,
    ) -> None:
        # `take` removes one batch from the line, its first item at least (what must wait
        # keeps its place); `commit` does the batch and answers each item, and must not raise.
        self._take = take
        self._commit = commit
        self.waiting: deque[Item] = deque()
        # Writers free to take a batch now: an item finding one starts a batch at once.
        self._free = writers
        # The running writers, held so the loop's weak references are not their only ones.
        self._writers: set[asyncio.Task[None]] = set()

    def submit(self, item: Item) -> None:
        self.waiting.append(item)
        if self._free > 0:
            self._free -= 1
            writer = asyncio.get_running_loop().create_task(self._write())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)

    async def _write(self) -> None:
        """One writer: batches until the line is empty, then it is free again."""
        try:
            while self.waiting:
                await self._commit(self._take(self.waiting))
        finally:
            self._free += 1


def take_distinct(
    waiting: deque[Item],
    limit: int,
    key: Callable[[Item], Hashable],
    belongs: Callable[[Item], bool] = lambda _: True,
) -> list[Item]:
    """A `take` for BatchWriters: up to `limit` waiting items that `belong` together, at most one
    per `key` (a second of a key must see the first's effect, so it waits for the next batch);
    the rest keep their place in line."""
    batch: list[Item] = []
    later: list[Item] = []
    keys: set[Hashable] = set()
    while waiting and len(batch) < limit:
        item = waiting.popleft()
        if not belongs(item) or key(item) in keys:
            later.append(item)
        else:
            keys.add(key(item))
            batch.append(item)
    waiting.extendleft(reversed(later))
    return batch


def fail_every(batch: Iterable[Answerable], exc: BaseException) -> None:
    """The batch's transaction failed, so nothing of it happened: every item not yet answered
    learns why (a `commit` must not raise)."""
    for item in batch:
        if not item.answer.done():
            item.answer.set_exception(exc)
