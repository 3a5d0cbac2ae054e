"""Contact import: every contact becomes an Unassigned `not_started` conversation.

Invalid numbers, numbers already in the campaign (or twice in the request) and opted-out numbers
are each reported with their row; nothing is silently dropped.
"""

from __future__ import annotations

import zoneinfo

import asyncpg
import msgspec

from services.assigner.admin import fetch_campaign_as
from services.assigner.named_queries import QUERIES
from shared.access import Caller
from shared.phones import InvalidPhoneError, to_e164
from shared.schemas import admin as s


def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False


class ContactImport:
    def __init__(self, pool: asyncpg.Pool, default_region: str = "US") -> None:
        self._pool = pool
        self._region = default_region

    async def import_contacts(self, request: s.ImportContacts, caller: Caller) -> s.ImportResult:
        rejected: list[s.Rejected] = []
        rows: dict[str, tuple[int, s.ContactRow]] = {}
        duplicates = 0
        for index, contact in enumerate(request.contacts):
            try:
                phone = to_e164(contact.phone, self._region)
            except InvalidPhoneError as exc:
                rejected.append(s.Rejected(row=index, reason=f"invalid_phone: {exc}"))
                continue
            if contact.timezone is not None and not _valid_zone(contact.timezone):
                rejected.append(
                    s.Rejected(row=index, reason=f"invalid_timezone: {contact.timezone}")
                )
                continue
            if phone in rows:
                duplicates += 1
                rejected.append(s.Rejected(row=index, reason="duplicate: repeated in this import"))
                continue
            rows[phone] = (index, contact)

        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await fetch_campaign_as(conn, caller, request.campaign_id)
            opted = {r["phone"] for r in await conn.fetch(
                QUERIES["opted_out_phones"], campaign["org_id"], list(rows)
            )}  # fmt: skip
            for phone in sorted(opted, key=lambda p: rows[p][0]):
                rejected.append(s.Rejected(row=rows.pop(phone)[0], reason="opted_out"))
            phones = list(rows)
            await conn.execute(QUERIES["create_import_staging"])
            await conn.copy_records_to_table(
                "contact_import",
                records=[
                    (
                        p,
                        c.first_name,
                        c.last_name,
                        msgspec.json.encode(c.fields).decode(),
                        c.timezone,
                    )
                    for p in phones
                    for c in (rows[p][1],)
                ],
            )
            inserted = await conn.fetch(QUERIES["import_contacts"], campaign["id"])
        new = {r["phone"] for r in inserted}
        for phone in phones:
            if phone not in new:
                duplicates += 1
                rejected.append(
                    s.Rejected(row=rows[phone][0], reason="duplicate: already in the campaign")
                )
        rejected.sort(key=lambda r: r.row)
        return s.ImportResult(imported=len(new), duplicates=duplicates, rejected=rejected)
