"""A small client for tests: send a request as someone, get the data or the BatonError.

`as_user` is who the request's bearer token names: a user id, `OPERATOR`, or None for no token.
Tokens are real JWTs signed with the test secret, which every service the tests start verifies.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from nats.aio.client import Client as NatsClient

from shared.contract.catalogue import BY_SUBJECT, Route
from shared.contract.errors import BatonError
from shared.contract.schemas.admin import ContactRow
from shared.runtime.client import BatonClient
from shared.runtime.tokens import TokenSigner
from tools.simulation.setup import CampaignSpec, set_up_campaign

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


class TestCredentials:
    """Headers for `as_user`, signed with the test secret."""

    def __init__(self, as_user: Caller) -> None:
        self._as_user = as_user

    def headers(self) -> dict[str, str]:
        return auth_headers(self._as_user) or {}


class Baton:
    """The shared client (shared/runtime/client.py) as the tests use it: keyword payloads, any
    caller per call, and every refusal checked against the codes the catalogue declares."""

    def __init__(self, nc: NatsClient, timeout: float = 10.0) -> None:
        self.nc = nc
        self.timeout = timeout

    def client(self, as_user: Caller) -> BatonClient:
        return BatonClient(self.nc, credentials=TestCredentials(as_user), timeout=self.timeout)

    async def call(
        self, route: Route[Any, Any] | str, *, as_user: Caller = None, **payload: Any
    ) -> Any:
        """`route`, or its subject (tests that loop over subjects)."""
        route = _route(route)
        try:
            return await self.client(as_user).call_json(route, payload)
        except BatonError as refusal:
            _declared(route, refusal)
            raise

    async def error(
        self, route: Route[Any, Any] | str, *, as_user: Caller = None, **payload: Any
    ) -> BatonError:
        """Send a request that must be refused; return the refusal."""
        route = _route(route)
        try:
            data = await self.client(as_user).call_json(route, payload)
        except BatonError as refusal:
            _declared(route, refusal)
            return refusal
        raise AssertionError(f"{route.subject} succeeded but should have been refused: {data}")


def _route(route: Route[Any, Any] | str) -> Route[Any, Any]:
    return BY_SUBJECT[route] if isinstance(route, str) else route


def _declared(route: Route[Any, Any], refusal: BatonError) -> None:
    """Every code a test meets must be one the catalogue says the subject may answer."""
    assert refusal.code in route.errors, (
        f"{route.subject} answered {refusal.code!r}, which shared/contract/catalogue.py does not declare "
        f"for it ({refusal.message})"
    )


async def campaign_with_texters(
    baton: Baton,
    texters: int,
    contacts: int,
    *,
    batch_size: int = 300,
    self_assign: bool = True,
    sending_number: str | None = None,
) -> dict[str, Any]:
    """An active campaign with `contacts` Unassigned conversations and `texters` texters on it,
    set up as the simulation does (tools/simulation/setup.py); with `sending_number`, the
    organization owns it and the campaign sends from it."""
    rows = [ContactRow(phone=f"+1415555{n:04d}" if n < 10000 else f"+1650555{n - 10000:04d}")
            for n in range(contacts)]  # fmt: skip
    spec = CampaignSpec(contacts=rows, texters=texters, batch_size=batch_size,
                        self_assign=self_assign, sending_number=sending_number)  # fmt: skip
    setup = await set_up_campaign(BatonClient(baton.nc, timeout=baton.timeout), SIGNER, spec)
    return {"org": setup.org, "owner": setup.owner, "texters": setup.texters,
            "campaign": setup.campaign}  # fmt: skip
