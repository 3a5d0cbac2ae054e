"""A small client for tests: send a request as someone, get the data or the BatonError.

`as_user` is who the request's bearer token names: a user id, `OPERATOR`, or None for no token.
Tokens are real JWTs signed with the test secret, which every service the tests start verifies.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from nats.aio.client import Client as NatsClient

from shared.deadlines import deadline_header
from shared.envelope import decode_reply, unwrap
from shared.errors import BatonError
from shared.tokens import TokenSigner

# The HS256 secret of every service the tests start (tests/support/services.py).
TEST_AUTH_SECRET = "baton-tests-only-secret-0123456789abcdef"
SIGNER = TokenSigner.from_secret(TEST_AUTH_SECRET)
OPERATOR: Literal["operator"] = "operator"
Caller = int | Literal["operator"] | None


def auth_headers(as_user: Caller) -> dict[str, str] | None:
    """The NATS headers that make a request come from `as_user`."""
    if as_user is None:
        return None
    if as_user == OPERATOR:
        return SIGNER.header(OPERATOR, operator=True)
    return SIGNER.header(as_user)


def request_args(as_user: Caller, payload: dict[str, Any]) -> dict[str, Any]:
    return {"payload": msgspec.json.encode(payload), "headers": auth_headers(as_user)}


class Baton:
    def __init__(self, nc: NatsClient, timeout: float = 10.0) -> None:
        self.nc = nc
        self.timeout = timeout

    async def call(self, subject: str, *, as_user: Caller = None, **payload: Any) -> Any:
        reply = await self.nc.request(subject, timeout=self.timeout, **self._args(as_user, payload))
        return unwrap(reply.data)

    def _args(self, as_user: Caller, payload: dict[str, Any]) -> dict[str, Any]:
        """The request as `as_user`, with the deadline this client stops waiting at."""
        args = request_args(as_user, payload)
        args["headers"] = {**(args["headers"] or {}), **deadline_header(self.timeout)}
        return args

    async def error(self, subject: str, *, as_user: Caller = None, **payload: Any) -> BatonError:
        """Send a request that must be refused; return the refusal."""
        reply = await self.nc.request(subject, timeout=self.timeout, **self._args(as_user, payload))
        decoded = decode_reply(reply.data)
        assert not decoded.ok, f"{subject} succeeded but should have been refused: {decoded.data}"
        assert decoded.error is not None
        return BatonError(decoded.error.code, decoded.error.message, decoded.error.details)


async def campaign_with_texters(
    baton: Baton,
    texters: int,
    contacts: int,
    *,
    batch_size: int = 300,
    self_assign: bool = True,
    sending_number: str | None = None,
) -> dict[str, Any]:
    """An active campaign with `contacts` Unassigned conversations and `texters` texters; with
    `sending_number`, the organization owns it and the campaign sends from it."""
    org = (await baton.call("baton.admin.org.create", as_user=OPERATOR, name="Org"))["org_id"]
    owner = (await baton.call("baton.admin.user.create", as_user=OPERATOR, org_id=org,
                              name="Owner", role="owner"))["user_id"]  # fmt: skip
    texter_ids = [
        (await baton.call("baton.admin.user.create", as_user=owner, org_id=org,
                          name=f"Texter {i}", role="texter"))["user_id"]
        for i in range(texters)
    ]  # fmt: skip
    if sending_number is not None:
        await baton.call("baton.admin.org.numbers.add", as_user=owner, org_id=org,
                         numbers=[sending_number])  # fmt: skip
    # Texting hours all day: what a test hands out must not depend on when it runs (the
    # texting-hours tests set their own hours and clock).
    campaign = (await baton.call("baton.admin.campaign.create", as_user=owner, org_id=org,
                                 title="Campaign", sending_number=sending_number,
                                 texting_hours={"start": 0, "end": 24}))["campaign_id"]  # fmt: skip
    await baton.call("baton.admin.campaign.update", as_user=owner, campaign_id=campaign,
                     status="active", self_assign=self_assign, batch_size=batch_size)  # fmt: skip
    if texter_ids:
        await baton.call("baton.admin.campaign.texters.add", as_user=owner, campaign_id=campaign,
                         user_ids=texter_ids)  # fmt: skip
    for start in range(0, contacts, 5000):
        rows = [{"phone": f"+1415555{n:04d}" if n < 10000 else f"+1650555{n - 10000:04d}"}
                for n in range(start, min(contacts, start + 5000))]  # fmt: skip
        result = await baton.call("baton.admin.contacts.import", as_user=owner,
                                  campaign_id=campaign, contacts=rows)  # fmt: skip
        assert result["rejected"] == [], result["rejected"][:3]
    return {"org": org, "owner": owner, "texters": texter_ids, "campaign": campaign}
