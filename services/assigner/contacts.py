"""Contact import: every contact becomes an Unassigned `not_started` conversation.

Invalid numbers, numbers already in the campaign (or twice in the import) and opted-out numbers
are each reported with their row; nothing is silently dropped.

A request's contacts are imported in its one transaction. A file too large for one request
(`baton contacts import`) comes in parts that name a file import (`FilePart`): each part is
staged in `contact_file_row` under the import's id, and the commit moves all of them into the
campaign in one statement of one transaction, so a file is imported whole or not at all, however
many parts it took and whatever failed between them (contact_files.sql).
"""

from __future__ import annotations

import zoneinfo
from typing import Any

import asyncpg
import msgspec

from services.assigner.admin import StoredCampaign, fetch_campaign_as
from services.assigner.named_queries import QUERIES
from services.assigner.phone_checks import Checked, PhoneChecks
from shared.access import Caller
from shared.database import Connection
from shared.error_codes import ErrorCode
from shared.errors import BatonError, bad_request, not_found
from shared.queries import load_queries
from shared.schemas import admin as s

FILE_QUERIES = load_queries("services.assigner", "contact_files.sql")
# The commit of a file of millions of rows is one statement; it may take longer than the pool's
# 60 s command timeout for a single request.
COMMIT_TIMEOUT_SECONDS = 900.0


def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False


class ContactImport:
    def __init__(self, pool: asyncpg.Pool, phone_checks: PhoneChecks) -> None:
        self._pool = pool
        self._phone_checks = phone_checks

    async def _checked(self, contacts: list[s.ContactRow]) -> list[Checked]:
        """Per row, (the phone in E.164, None) if it may be imported, else (None, the reason)."""
        phones = await self._phone_checks.checked([c.phone for c in contacts])
        return [
            (None, f"invalid_timezone: {c.timezone}")
            if phone is not None and c.timezone is not None and not _valid_zone(c.timezone)
            else (phone, reason)
            for c, (phone, reason) in zip(contacts, phones, strict=True)
        ]

    async def import_contacts(self, request: s.ImportContacts, caller: Caller) -> s.ImportResult:
        if request.file is not None:
            return await self._file_part(request, request.file, caller)
        rejected: list[s.Rejected] = []
        rows: dict[str, tuple[int, s.ContactRow]] = {}
        duplicates = 0
        checked = await self._checked(request.contacts)
        for index, (contact, (phone, reason)) in enumerate(
            zip(request.contacts, checked, strict=True)
        ):
            if phone is None:
                rejected.append(s.Rejected(row=index, reason=reason or "invalid"))
                continue
            if phone in rows:
                duplicates += 1
                rejected.append(s.Rejected(row=index, reason="duplicate: repeated in this import"))
                continue
            rows[phone] = (index, contact)

        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await fetch_campaign_as(conn, caller, request.campaign_id)
            opted = {
                r["phone"]
                for r in await conn.fetch(
                    QUERIES["opted_out_phones"], campaign["org_id"], list(rows)
                )
            }
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

    async def _file_part(
        self, request: s.ImportContacts, part: s.FilePart, caller: Caller
    ) -> s.ImportResult:
        if part.first_row + len(request.contacts) > part.rows:
            raise bad_request(
                f"file.first_row + {len(request.contacts)} contacts is past the file's "
                f"{part.rows} rows",
                field="file.first_row",
            )
        if part.step == "abort" and request.contacts:
            raise bad_request("an abort carries no contacts", field="contacts")
        # Phones are checked before the transaction, as for a request's own import.
        checked = zip(request.contacts, await self._checked(request.contacts), strict=True)
        records = [self._record(part, index, c, found) for index, (c, found) in enumerate(checked)]
        async with self._pool.acquire() as conn, conn.transaction():
            campaign = await fetch_campaign_as(conn, caller, request.campaign_id)
            found = await self._locked(conn, part, campaign["id"], caller.user_id)
            if part.step == "abort":
                if found is not None and found["state"] == "staging":
                    await conn.execute(FILE_QUERIES["abort_file_import"], part.import_id)
                elif found is not None:
                    raise BatonError(
                        ErrorCode.CONFLICT, f"import {part.import_id} is already committed"
                    )
                return s.ImportResult(imported=0, duplicates=0, rejected=[])
            if found is None:
                raise not_found("import", part.import_id)
            if found["state"] == "committed":
                if part.step == "commit":
                    # A retried commit: the first one's answer, and nothing imported twice.
                    return msgspec.json.decode(found["result"], type=s.ImportResult)
                raise BatonError(
                    ErrorCode.CONFLICT, f"import {part.import_id} is already committed"
                )
            if found["rows"] != part.rows:
                raise bad_request(
                    f"import {part.import_id} has {found['rows']} rows, not {part.rows}",
                    field="file.rows",
                )
            staged = await self._stage(conn, part, records)
            if part.step == "stage":
                return s.ImportResult(imported=0, duplicates=0, rejected=[], staged=staged)
            if staged != part.rows:
                raise BatonError(
                    ErrorCode.CONFLICT,
                    f"import {part.import_id} has {staged} of its {part.rows} rows staged; "
                    "send the missing parts before the commit",
                    {"staged": staged, "rows": part.rows},
                )
            return await self._commit(conn, part, campaign)

    @staticmethod
    def _record(
        part: s.FilePart, index: int, contact: s.ContactRow, checked: Checked
    ) -> tuple[Any, ...]:
        phone, reason = checked
        if phone is None:
            # Only the reason is kept of a rejected row.
            return (part.import_id, part.first_row + index, None, "", "", "{}", None, reason)
        fields = msgspec.json.encode(contact.fields).decode()
        return (
            part.import_id,
            part.first_row + index,
            phone,
            contact.first_name,
            contact.last_name,
            fields,
            contact.timezone,
            None,
        )

    async def _locked(
        self, conn: Connection, part: s.FilePart, campaign_id: int, user_id: int
    ) -> asyncpg.Record | None:
        """The import, locked for this request; a new one if this is its first part. Someone
        else's import, or one of another campaign, is None, exactly as an id never used: never
        locked (so never `busy` for it), an abort of it answers as of nothing (issue #30)."""
        if part.first_row == 0 and part.step != "abort":
            await conn.execute(FILE_QUERIES["sweep_file_imports"])
            await conn.execute(
                FILE_QUERIES["create_file_import"], part.import_id, campaign_id, user_id, part.rows
            )
        # Parts are staged side by side; the commit and an abort wait for none of them.
        lock = "file_import_for_staging" if part.step == "stage" else "file_import_for_update"
        try:
            found = await conn.fetchrow(FILE_QUERIES[lock], part.import_id, campaign_id, user_id)
        except asyncpg.LockNotAvailableError:
            raise BatonError(
                ErrorCode.BUSY,
                f"import {part.import_id} is busy with another request; ask again shortly",
            ) from None
        return found

    async def _stage(
        self, conn: Connection, part: s.FilePart, records: list[tuple[Any, ...]]
    ) -> int:
        """Stage the part's rows (unless a first sending of it already did); the rows staged."""
        added = 0
        if records:
            end = part.first_row + len(records)
            already = await conn.fetchval(
                FILE_QUERIES["staged_between"], part.import_id, part.first_row, end
            )
            if already == 0:
                try:
                    await conn.copy_records_to_table(
                        "contact_file_row",
                        records=records,
                        columns=[
                            "import_id",
                            "row_no",
                            "phone",
                            "first_name",
                            "last_name",
                            "fields",
                            "timezone",
                            "reason",
                        ],
                    )
                except asyncpg.UniqueViolationError:
                    # The same rows, sent again while their first sending was being staged: once
                    # that one is in, the next try finds them staged and adds nothing.
                    raise BatonError(
                        ErrorCode.BUSY,
                        f"rows {part.first_row}..{end - 1} of import {part.import_id} are being "
                        "staged by another request; ask again shortly",
                    ) from None
                added = len(records)
            elif already != len(records):
                raise BatonError(
                    ErrorCode.CONFLICT,
                    f"rows {part.first_row}..{end - 1} of import {part.import_id} overlap a part "
                    "staged before",
                )
        staged: int = await conn.fetchval(FILE_QUERIES["count_staged"], part.import_id, added)
        return staged

    async def _commit(
        self, conn: Connection, part: s.FilePart, campaign: StoredCampaign
    ) -> s.ImportResult:
        row = await conn.fetchrow(
            FILE_QUERIES["commit_file_import"],
            part.import_id,
            campaign["id"],
            campaign["org_id"],
            s.FIRST_REJECTIONS,
            timeout=COMMIT_TIMEOUT_SECONDS,
        )
        assert row is not None
        by_reason = msgspec.json.decode(row["rejected_by_reason"], type=dict[str, int])
        result = s.ImportResult(
            imported=row["imported"],
            duplicates=by_reason.get("duplicate", 0),
            rejected=msgspec.json.decode(row["first_rejections"], type=list[s.Rejected]),
            rejected_by_reason=by_reason,
        )
        await conn.execute(
            FILE_QUERIES["finish_file_import"], part.import_id, msgspec.json.encode(result).decode()
        )
        return result
