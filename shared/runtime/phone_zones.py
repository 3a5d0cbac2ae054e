"""The zones a phone number's prefix implies, from `phonenumbers`, loaded into Postgres.

Postgres gives each new conversation its contact's zone group (migration 0006), so the request
import, the file import and any INSERT get it alike. For a contact without an imported zone it
looks the number up in `phone_zone_prefix`, which this keeps equal to the installed library's
prefix table: `baton migrate` loads it after the migrations, in their transaction and under their
lock, whenever the library's table differs from the stored one (the first time, and after an
upgrade of `phonenumbers`). Conversations already in the "unknown" group whose number the new
table can place move to their zones; others keep theirs.
"""

from __future__ import annotations

import hashlib

from phonenumbers import tzdata

from shared.runtime import phone_zones_queries as queries
from shared.runtime.database import Connection

# What phonenumbers answers for a prefix it cannot place: no zone at all.
UNKNOWN = "Etc/Unknown"
# The longest prefix contact_zone_group() (migration 0006) tries.
LONGEST_PREFIX = 9


def library_prefixes() -> dict[str, str]:
    """Prefix (E.164 digits) -> its zones, sorted and space-separated ('' when unknown)."""
    if tzdata.TIMEZONE_LONGEST_PREFIX > LONGEST_PREFIX:
        raise RuntimeError("phonenumbers has longer zone prefixes than contact_zone_group() tries")
    return {
        prefix: " ".join(sorted(zone for zone in zones if zone != UNKNOWN))
        for prefix, zones in tzdata.TIMEZONE_DATA.items()
    }


def digest(prefixes: dict[str, str]) -> str:
    """The same digest `stored_digest` computes in Postgres, to tell whether to load."""
    text = ";".join(f"{prefix}={prefixes[prefix]}" for prefix in sorted(prefixes))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


async def load_phone_zones(conn: Connection) -> bool:
    """Make the stored prefix table the library's; True when anything had to change."""
    prefixes = library_prefixes()
    if await queries.stored_digest(conn) == digest(prefixes):
        return False
    async with conn.transaction():
        keys = sorted(prefixes)
        zone_sets = [prefixes[k] for k in keys]
        await queries.add_zone_groups(conn, zone_sets=sorted(set(zone_sets)))
        await queries.clear_prefixes(conn)
        await queries.insert_prefixes(conn, prefixes=keys, zone_sets=zone_sets)
        await queries.rehome_unknown(conn)
    return True
