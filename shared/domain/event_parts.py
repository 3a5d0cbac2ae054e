"""Events that name many conversations go out in parts, so none outgrows NATS's payload limit.

A reassignment can hand one texter a million conversations; one event carrying all their ids
would be an outbox row that can never be published (NATS refuses payloads over max_payload,
1 MiB by default). Each part carries at most IDS_PER_EVENT ids, `part` (from 0) and `parts`, and
its own message id, so a reader knows when it holds them all.
"""

from __future__ import annotations

from collections.abc import Sequence

# 10,000 ids of at most 19 digits are under 200 KB of JSON: far below 1 MiB with the rest.
IDS_PER_EVENT = 10_000


def in_parts(ids: Sequence[int]) -> list[Sequence[int]]:
    """`ids` cut into consecutive parts of at most IDS_PER_EVENT; one (empty) part for none."""
    size = IDS_PER_EVENT  # read at each call: tests lower it to see parts without 10,000 rows
    return [ids[start : start + size] for start in range(0, len(ids), size)] or [ids]


def part_id(base: str, part: int) -> str:
    """The message id of one part: the event's id, then the part's number."""
    return f"{base}:{part}"


def numbered_parts(base: str, ids: Sequence[int]) -> list[tuple[str, int, int, list[int]]]:
    """Each part of `ids` as (its message id, its number, how many parts, its ids): what every
    event in parts carries."""
    parts = in_parts(ids)
    return [(part_id(base, n), n, len(parts), list(part)) for n, part in enumerate(parts)]
