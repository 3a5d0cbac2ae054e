"""A provider id that is already taken by a different message (issue #30, finding 1).

A repeat must be a true repeat: the same provider id with the same sender, number texted and
body. The same id with anything else is another message, perhaps a STOP, perhaps in another
organization, and must not be dropped as a duplicate. It is stored under a derived id, the
provider's id plus a short digest of its content (and, should that be taken too by something
else, a counter), so:
- the unique indexes stay what they are, on (direction, provider_message_id) for messages and on
  provider_message_id for unmatched texts: the previous release's inbound, which inserts with
  `ON CONFLICT` on exactly those, keeps working during a rolling upgrade (no migration at all);
- a redelivery of the colliding message walks the same ids in the same order and finds its row
  there: still recorded exactly once.
Collisions are rare (a provider reusing ids, or a bridge forging them), so the batch insert stays
as it was and only the messages it did not insert come here, one at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

ID_COLLISIONS = Counter(
    "baton_inbound_id_collisions_total",
    "Contacts' messages whose provider id another, different message already had: stored under "
    "a derived id, not dropped as repeats.",
    ["table"],
)
# Derived ids tried after the provider's own before giving up (the message then fails and is
# dead-lettered, never dropped): each one taken needs a message forged for it.
MAX_DERIVED = 16


def derived_ids(provider_id: str, phone: str, to: str, body: str) -> list[str]:
    """The ids a message may be stored under, in the order tried: the provider's first."""
    digest = hashlib.sha256("\x1f".join((phone, to, body)).encode()).hexdigest()[:16]
    first = f"{provider_id}~{digest}"
    return [provider_id, first, *(f"{first}~{n}" for n in range(2, MAX_DERIVED + 1))]


class IdTakenError(Exception):
    """Every id a message could be stored under holds another message."""


async def store(
    ids: list[str],
    insert: Callable[[str], Awaitable[bool]],
    repeats: Callable[[str], Awaitable[bool | None]],
) -> tuple[str, bool]:
    """Store a message whose provider id (ids[0]) was taken when the batch inserted it: returns
    the id it is kept under and whether it is new. `insert(id)` inserts it under `id` (ON
    CONFLICT DO NOTHING) and says whether it did; `repeats(id)` whether the message under `id`
    has this one's content (phone, number texted, body)."""
    for candidate in ids:
        # The provider's own id is tried again too: cheap, on a path taken rarely, and right
        # should the row the batch's insert met have gone since.
        if await insert(candidate):
            return candidate, True
        # Inserted by a transaction committed before this statement began, or by this one.
        if await repeats(candidate):
            return candidate, False
    raise IdTakenError(f"provider id {ids[0]!r}: every derived id holds another message")
