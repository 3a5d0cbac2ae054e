"""Twilio, through its official SDK: send a text, and find one a crashed attempt may have sent.

The SDK has no base-URL option; it takes an `http_client` (its documented extension point). Ours
is a real aiohttp client that sends each of the SDK's requests to BATON_TWILIO_API_URL instead of
https://api.twilio.com: production leaves it at the default, the tests and `baton demo` point it
at the simulator (tools/simulation/twilio_simulator.py). It logs no request: the SDK's own
logging would print the parameters (numbers), and Baton prints no credentials or contacts.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from services.bridge.provider import (
    CONNECTIONS,
    Accepted,
    ProviderRefusedError,
    ProviderUnreachableError,
)
from shared.contract.schemas.messaging import OutboundSms
from shared.domain.provider_codes import twilio_outcome

# How far a provider's clock (and its one-second `date_created`) may be behind ours when a text
# is looked up after a crash.
CLOCK_SKEW = timedelta(seconds=5)
LOOKUP_PAGE = 100


class RebasedHttpClient(AsyncHttpClient):  # type: ignore[misc]
    """The SDK's requests, sent to `api_url` over aiohttp with a timeout on each."""

    def __init__(self, api_url: str, timeout_seconds: float) -> None:
        super().__init__(logging.getLogger("baton.bridge.twilio_http"), True, timeout_seconds)
        base = urlsplit(api_url)
        self._scheme, self._netloc = base.scheme, base.netloc
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def rebased(self, url: str) -> str:
        return urlunsplit(urlsplit(url)._replace(scheme=self._scheme, netloc=self._netloc))

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  # the SDK's signature; ours is per client
        allow_redirects: bool = False,
    ) -> Response:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=CONNECTIONS)
            )
        async with self._session.request(
            method.upper(),
            self.rebased(uri),
            params=_strings(params),
            data=_strings(data),
            headers={**(headers or {}), **_basic_auth(auth)},
            allow_redirects=allow_redirects,
        ) as answer:
            return Response(answer.status, await answer.text(), answer.headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _basic_auth(auth: tuple[str, str] | None) -> dict[str, str]:
    """HTTP basic auth as a header (aiohttp's BasicAuth is deprecated)."""
    if auth is None:
        return {}
    pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
    return {"Authorization": f"Basic {pair}"}


def _strings(values: dict[str, object] | None) -> dict[str, str] | None:
    return None if values is None else {k: str(v) for k, v in values.items()}


class TwilioProvider:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_url: str,
        *,
        messaging_service_sid: str = "",
        status_callback: str = "",
        timeout_seconds: float = 10.0,
    ) -> None:
        self.account = account_sid
        self._http = RebasedHttpClient(api_url, timeout_seconds)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._service = messaging_service_sid
        self.picks_numbers = bool(messaging_service_sid)
        self._callback = status_callback

    def namespaced(self, sid: str) -> str:
        """The id Baton stores: unique across providers and accounts, as a sid alone is not."""
        return f"{self.name}:{self.account}:{sid}"

    async def send(self, text: OutboundSms) -> Accepted:
        """The text, handed to Twilio from its number (or the Messaging Service's pool)."""
        options: dict[str, Any] = {"to": text.to, "body": text.body}
        if text.from_number:
            options["from_"] = text.from_number
        else:
            options["messaging_service_sid"] = self._service
        if self._callback:
            options["status_callback"] = self._callback
        message = await self._call(self._client.messages.create_async(**options))
        return Accepted(self.namespaced(str(message.sid)), message.from_ or text.from_number)

    async def find(self, text: OutboundSms, since: datetime) -> Accepted | None:
        """The text, if an earlier attempt (begun at `since`) got it to Twilio: the account's
        messages to the contact from the same number, created since then, with the same body."""
        options: dict[str, Any] = {"to": text.to, "limit": LOOKUP_PAGE, "page_size": LOOKUP_PAGE}
        if text.from_number:
            options["from_"] = text.from_number
        listed = await self._call(self._client.messages.list_async(**options))
        earliest = since - CLOCK_SKEW
        for message in listed:
            created = message.date_created
            if message.body == text.body and (created is None or created >= earliest):
                return Accepted(self.namespaced(str(message.sid)), message.from_)
        return None

    async def numbers(self) -> list[str]:
        """Every number the account holds (IncomingPhoneNumbers), E.164."""
        listed = await self._call(self._client.incoming_phone_numbers.list_async(page_size=1000))
        return [str(n.phone_number) for n in listed if n.phone_number]

    async def _call(self, call: Any) -> Any:
        try:
            return await call
        except TwilioRestException as exc:
            code = exc.code if isinstance(exc.code, int) else None
            raise ProviderRefusedError(twilio_outcome(int(exc.status), code)) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ProviderUnreachableError(type(exc).__name__) from None

    async def close(self) -> None:
        await self._http.close()
