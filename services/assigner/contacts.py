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

from services.assigner import contact_files_queries as files
from services.assigner import queries as q
from services.assigner.admin import StoredCampaign, fetch_campaign_as
from services.assigner.phone_checks import Checked, PhoneChecks
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError, bad_request, not_found
from shared.contract.schemas import admin as s
from shared.runtime.access import Caller
from shared.runtime.database import Connection

# The commit of a file of millions of rows is one statement; it may take longer than the pool's
# 60 s command timeout for a single request.
COMMIT_TIMEOUT_SECONDS = 900.0
# A file import as a request finds it, locked for the commit (or an abort) or for staging
# (contact_files.sql: the two read the same columns).
FileImport = files.FileImportForUpdateRow | files.FileImportForStagingRow


class _Unhurried:
    """A connection whose statements may each run for `timeout` seconds, not the pool's
    command timeout (an Executor for the generated queries)."""

    def __init__(self, conn: Connection, timeout: float) -> None:
        self._conn = conn
        self._timeout = timeout

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        return await self._conn.fetch(query, *args, timeout=self._timeout)

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return await self._conn.fetchrow(query, *args, timeout=self._timeout)

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._conn.fetchval(query, *args, timeout=self._timeout)

    async def execute(self, query: str, *args: Any) -> str:
        return await self._conn.execute(query, *args, timeout=self._timeout)


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
                r.phone
                for r in await q.opted_out_phones(conn, org_id=campaign.org_id, phones=list(rows))
            }
            for phone in sorted(opted, key=lambda p: rows[p][0]):
                rejected.append(s.Rejected(row=rows.pop(phone)[0], reason="opted_out"))
            phones = list(rows)
            await q.create_import_staging(conn)
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
            inserted = await q.import_contacts(conn, campaign_id=campaign.id)
        new = {r.phone for r in inserted}
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
            found = await self._locked(conn, part, campaign.id, caller.user_id)
            if part.step == "abort":
                if found is not None and found.state == "staging":
                    await files.abort_file_import(conn, import_id=part.import_id)
                elif found is not None:
                    raise BatonError(
                        ErrorCode.CONFLICT, f"import {part.import_id} is already committed"
                    )
                return s.ImportResult(imported=0, duplicates=0, rejected=[])
            if found is None:
                raise not_found("import", part.import_id)
            # Committed, with its answer: contact_file_import's CHECK keeps the two together.
            if found.result is not None:
                if part.step == "commit":
                    # A retried commit: the first one's answer, and nothing imported twice.
                    return msgspec.json.decode(found.result, type=s.ImportResult)
                raise BatonError(
                    ErrorCode.CONFLICT, f"import {part.import_id} is already committed"
                )
            if found.rows != part.rows:
                raise bad_request(
                    f"import {part.import_id} has {found.rows} rows, not {part.rows}",
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
    ) -> FileImport | None:
        """The import, locked for this request; a new one if this is its first part. Someone
        else's import, or one of another campaign, is None, exactly as an id never used: never
        locked (so never `busy` for it), an abort of it answers as of nothing (issue #30)."""
        if part.first_row == 0 and part.step != "abort":
            await files.sweep_file_imports(conn)
            await files.create_file_import(
                conn,
                import_id=part.import_id,
                campaign_id=campaign_id,
                user_id=user_id,
                rows=part.rows,
            )
        try:
            # Parts are staged side by side; the commit and an abort wait for none of them.
            found: FileImport | None
            if part.step == "stage":
                found = await files.file_import_for_staging(
                    conn, import_id=part.import_id, campaign_id=campaign_id, user_id=user_id
                )
            else:
                found = await files.file_import_for_update(
                    conn, import_id=part.import_id, campaign_id=campaign_id, user_id=user_id
                )
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
            already = await files.staged_between(
                conn, import_id=part.import_id, first_row=part.first_row, end_row=end
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
        return await files.count_staged(conn, import_id=part.import_id, added=added)

    async def _commit(
        self, conn: Connection, part: s.FilePart, campaign: StoredCampaign
    ) -> s.ImportResult:
        row = await files.commit_file_import(
            _Unhurried(conn, COMMIT_TIMEOUT_SECONDS),
            import_id=part.import_id,
            campaign_id=campaign.id,
            org_id=campaign.org_id,
            first_rejections=s.FIRST_REJECTIONS,
        )
        by_reason = msgspec.json.decode(row.rejected_by_reason, type=dict[str, int])
        result = s.ImportResult(
            imported=row.imported,
            duplicates=by_reason.get("duplicate", 0),
            rejected=msgspec.json.decode(row.first_rejections, type=list[s.Rejected]),
            rejected_by_reason=by_reason,
        )
        await files.finish_file_import(
            conn, import_id=part.import_id, result=msgspec.json.encode(result).decode()
        )
        return result
