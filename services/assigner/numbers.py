"""An organization's sending numbers: `baton.admin.org.numbers.add` / `.remove` and
`baton.query.org.numbers`, and the check that a campaign sends only from one of them.

A number belongs to one organization at a time. That is what keeps every reply, STOP and
confirmation inside the organization whose number the contact texted (services/inbound).
"""

from __future__ import annotations

import asyncpg

from services.assigner import numbers_queries as q
from shared.access import Caller
from shared.database import Connection
from shared.error_codes import ErrorCode
from shared.errors import BatonError, bad_request, not_found
from shared.phones import InvalidPhoneError, to_sending_number
from shared.schemas import admin as s


def normalised(raw: str, region: str, field: str) -> str:
    try:
        return to_sending_number(raw, region)
    except InvalidPhoneError as exc:
        raise bad_request(f"{field}: {exc}", field=field) from None


async def require_owned(conn: Connection, org_id: int, number: str) -> None:
    """A campaign sends only from its organization's numbers (the database's key says so too;
    this says it in words the caller can act on)."""
    if await q.owns_number(conn, org_id=org_id, number=number) is None:
        raise bad_request(
            f"sending_number: {number} is not one of this organization's numbers; "
            "add it with baton.admin.org.numbers.add first",
            field="sending_number",
        )


class SendingNumbers:
    def __init__(self, pool: asyncpg.Pool, default_region: str = "US") -> None:
        self._pool = pool
        self._region = default_region

    def _numbers(self, request: s.OrgNumbers) -> list[str]:
        return [
            normalised(raw, self._region, f"numbers[{index}]")
            for index, raw in enumerate(request.numbers)
        ]

    def _held(self, request: s.OrgNumbers) -> list[str]:
        """The numbers to give up, as stored: one an earlier release took that is no sending
        number now (a 3-4 digit service code, issue #30) is named as it was given."""
        numbers = []
        for raw in request.numbers:
            try:
                numbers.append(to_sending_number(raw, self._region))
            except InvalidPhoneError:
                numbers.append(raw.strip())
        return numbers

    async def add(self, request: s.AddOrgNumbers, caller: Caller) -> s.OrgNumbersView:
        numbers = self._numbers(request)
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            unheld = [r.phone for r in await q.not_held_by_a_provider(conn, numbers=numbers)]
            if unheld:
                # With a provider bridge, a number is the organization's only if the provider
                # account holds it (services/bridge/numbers.py keeps the account's numbers).
                raise bad_request(
                    f"numbers: {', '.join(unheld)} not held by the SMS provider account; buy or "
                    "port the number there first",
                    field="numbers",
                    numbers=unheld,
                )
            await q.add_numbers(
                conn,
                org_id=request.org_id,
                numbers=numbers,
                rate_per_second=request.rate_per_second,
            )
            taken = [
                r.phone
                for r in await q.held_elsewhere(conn, org_id=request.org_id, numbers=numbers)
            ]
            if taken:
                # All or nothing: the transaction takes back the numbers it did add.
                raise BatonError(
                    ErrorCode.CONFLICT,
                    f"{', '.join(taken)} already belong to another organization",
                    {"numbers": taken},
                )
            return await self._view(conn, request.org_id)

    async def remove(self, request: s.OrgNumbers, caller: Caller) -> s.OrgNumbersView:
        numbers = self._held(request)
        async with self._pool.acquire() as conn, conn.transaction():
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            # Locked first: a campaign being given one of them meanwhile commits before we look.
            await q.lock_numbers(conn, org_id=request.org_id, numbers=numbers)
            users = await q.campaigns_sending_from(conn, org_id=request.org_id, numbers=numbers)
            if users:
                raise _still_in_use(users)
            await q.remove_numbers(conn, org_id=request.org_id, numbers=numbers)
            return await self._view(conn, request.org_id)

    async def list(self, request: s.ListOrgNumbers, caller: Caller) -> s.OrgNumbersView:
        async with self._pool.acquire() as conn:
            await caller.role_in(conn, request.org_id, not_found("organization", request.org_id))
            return await self._view(conn, request.org_id)

    async def _view(self, conn: Connection, org_id: int) -> s.OrgNumbersView:
        rows = await q.org_numbers(conn, org_id=org_id)
        return s.OrgNumbersView(org_id=org_id, numbers=[r.phone for r in rows])


def _still_in_use(rows: list[q.CampaignsSendingFromRow]) -> BatonError:
    campaign_ids = [r.id for r in rows]
    return BatonError(
        ErrorCode.CONFLICT,
        f"campaigns {campaign_ids} still send from these numbers: give them another first",
        {"campaign_ids": campaign_ids},
    )
