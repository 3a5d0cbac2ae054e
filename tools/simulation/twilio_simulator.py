"""A Twilio stand-in that speaks Twilio's Messages API wire format, for the tests and `baton demo`.

A real HTTP server (aiohttp's): the bridge's official `twilio` SDK reaches it over HTTP, exactly
as it reaches api.twilio.com, so nothing in the SDK is patched. What it does:

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: form-encoded `To`, `From` or
  `MessagingServiceSid`, `Body`, `StatusCallback`; HTTP basic auth with the account's SID and
  token. Answers 201 with the Message resource as JSON, or Twilio's error JSON
  (`{"code", "message", "more_info", "status"}`) with its HTTP status.
- `GET` on the same path: the account's messages, newest first, filtered by `To`, `From` and
  `DateSent>` / `DateSent<`, in Twilio's page format (`messages`, `next_page_uri`, ...).
- Errors chosen per destination number (`fail(to, code, status, times)`), answers held back
  (`delay_seconds`), and every arrival recorded with its time (`arrivals`), so a test counts the
  sends per message and measures each number's rate from the provider's side.
- `signed_post(url, params)`: a webhook signed as Twilio signs them (`X-Twilio-Signature`: the
  account's token over the URL and the sorted POST parameters).
- Beside a running Baton (`baton up --provider twilio-simulator`, tools/simulation/
  simulator_process.py) it plays the carrier and the contacts: each accepted text that named a
  StatusCallback gets Twilio's `sent` and `delivered` callbacks (`reports_statuses`), and a
  contact's text goes to the numbers' messaging webhook (`messages_url`) as Twilio sends it
  (`contact_text`). `baton simulate` drives that from its own process through the control routes
  (tools/simulation/control_routes.py), with the account's credentials.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, ClassVar

from aiohttp import ClientError, ClientSession, web
from twilio.request_validator import RequestValidator

from services.bridge.settings import WEBHOOK_PATIENCE_SECONDS
from tools.simulation.control_routes import add_control_routes
from tools.simulation.http_stub import FailuresByNumber, StubServer

API_VERSION = "2010-04-01"
MESSAGES_PATH = f"/{API_VERSION}/Accounts/{{account}}/Messages.json"
NUMBERS_PATH = f"/{API_VERSION}/Accounts/{{account}}/IncomingPhoneNumbers.json"
# How long Twilio waits for a webhook's answer.
WEBHOOK_TIMEOUT_SECONDS = WEBHOOK_PATIENCE_SECONDS["twilio"]


def new_message_sid() -> str:
    """A contact's message's SID, as Twilio makes them."""
    return f"SM{secrets.token_hex(16)}"


@dataclass(frozen=True)
class Arrival:
    """One message the simulator accepted."""

    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    # Wall-clock time (what a list filter compares), and a monotonic one for rate measurements.
    created_at: datetime
    monotonic: float


@dataclass
class TwilioSimulator(StubServer):
    account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    # Held before each POST is answered: a provider call's latency.
    delay_seconds: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    # Every POST that reached the simulator, accepted or not (a refused one included).
    requests: int = 0
    # The numbers the account holds (IncomingPhoneNumbers).
    held_numbers: set[str] = field(default_factory=set)
    # Where a contact's text to one of those numbers goes (each number's SmsUrl in Twilio's
    # console: the bridge's `/twilio/messages`).
    messages_url: str = ""
    # Send Twilio's own status callbacks (`sent`, then `delivered`) for each accepted text that
    # named a StatusCallback, as the carrier would report it.
    reports_statuses: bool = False
    webhook_patience_seconds: ClassVar[float] = WEBHOOK_TIMEOUT_SECONDS
    _failures: FailuresByNumber = field(default_factory=FailuresByNumber)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        """What BATON_TWILIO_API_URL is set to."""
        return f"http://127.0.0.1:{self._port}"

    def fail(self, to: str, code: int, status: int = 400, times: int | None = None) -> None:
        """Answer texts to `to` with Twilio error `code` (HTTP `status`), `times` times, or
        always."""
        self._failures.set(to, code, status, times)

    def sent_to(self, to: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.to == to]

    def routes(self, app: web.Application) -> None:
        path = MESSAGES_PATH.format(account="{account}")
        app.router.add_post(path, self._create)
        app.router.add_get(path, self._list)
        app.router.add_get(NUMBERS_PATH.format(account="{account}"), self._numbers)
        add_control_routes(app, self, lambda: _error(401, 20003, "Authenticate"))

    # --- Webhooks, signed as Twilio signs them ---

    def signature(self, url: str, params: Mapping[str, str]) -> str:
        return str(RequestValidator(self.auth_token).compute_signature(url, dict(params)))

    async def signed_post(
        self,
        url: str,
        params: Mapping[str, str],
        signed_url: str | None = None,
        session: ClientSession | None = None,
    ) -> int:
        """POST `params` form-encoded to `url`, signed over `signed_url` (the public URL the
        provider was given, which behind a proxy is not the listener's); the HTTP status back.
        Through `session`, else the status callbacks' own (a session of its own when not
        started)."""
        headers = {"X-Twilio-Signature": self.signature(signed_url or url, params)}
        session = session or self.outgoing.statuses
        if session is None or session.closed:
            async with ClientSession() as own:
                return await _post(own, url, params, headers)
        return await _post(session, url, params, headers)

    async def report(self, arrival: Arrival, status: str, error_code: int | None = None) -> int:
        """A status callback for `arrival`, to the URL its send named, as Twilio sends it."""
        assert arrival.status_callback, "the send named no StatusCallback"
        params = {
            "AccountSid": self.account_sid,
            "MessageSid": arrival.sid,
            "SmsSid": arrival.sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "From": arrival.from_ or "",
            "To": arrival.to,
            "ApiVersion": API_VERSION,
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return await self.signed_post(arrival.status_callback, params)

    async def contact_text(self, from_: str, to: str, body: str, sid: str = "") -> tuple[str, int]:
        """A contact texts `to` (one of the account's numbers): posted to `messages_url` as
        Twilio posts it, under `sid` when given (Twilio's retry of a webhook that failed, with
        connection overrides, sends the same message again). The message's SID, and the HTTP
        status the webhook answered."""
        sid = sid or new_message_sid()
        params = {
            "AccountSid": self.account_sid,
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": API_VERSION,
        }
        return sid, await self.signed_post(
            self.messages_url, params, session=self.outgoing.contacts
        )

    async def _report_statuses(self, arrival: Arrival) -> None:
        """The carrier's word on an accepted text, as Twilio calls it back: `sent`, `delivered`.
        A callback nobody answered is not retried (Twilio does not retry them either)."""
        for status in ("sent", "delivered"):
            with contextlib.suppress(OSError, ClientError, TimeoutError):
                await self.report(arrival, status)

    # --- The Messages API ---

    def _authorized(self, request: web.Request, account: str | None = None) -> bool:
        """HTTP basic auth with the account's SID and token, on the account's own path (or, for
        a control route, `account`)."""
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        with contextlib.suppress(ValueError):
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            return (
                scheme == "Basic"
                and login == self.account_sid
                and secrets.compare_digest(password, self.auth_token)
                and (account or request.match_info["account"]) == self.account_sid
            )
        return False

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        form = await request.post()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        sender = form.get("From")
        service = form.get("MessagingServiceSid")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        # As Twilio: an empty MessagingServiceSid names no service (it answers 21603 too).
        if not sender and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        failure = self._failures.next(to)
        if failure is not None:
            return _error(failure.status, failure.code, f"Error {failure.code} for {to}")
        arrival = Arrival(
            sid=f"SM{next(self._sequence):08d}{secrets.token_hex(12)}",
            to=to,
            from_=None if sender is None else str(sender),
            messaging_service_sid=None if service is None else str(service),
            body=body,
            status_callback=None if "StatusCallback" not in form else str(form["StatusCallback"]),
            created_at=datetime.now(UTC),
            monotonic=time.monotonic(),
        )
        self.arrivals.append(arrival)
        if self.reports_statuses and arrival.status_callback:
            self.outgoing.in_background(self._report_statuses(arrival))
        return web.json_response(self._resource(arrival), status=201)

    async def _list(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        query = request.query
        after = _parse_iso(query.get("DateSent>"))
        before = _parse_iso(query.get("DateSent<"))
        size = min(int(query.get("PageSize", "50")), 1000)
        found = [
            a
            for a in reversed(self.arrivals)
            if query.get("To") in (None, a.to)
            and query.get("From") in (None, a.from_)
            and (after is None or a.created_at >= after)
            and (before is None or a.created_at <= before)
        ][:size]
        uri = str(request.rel_url)
        return web.json_response(
            {
                "messages": [self._resource(a) for a in found],
                "end": max(len(found) - 1, 0),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    async def _numbers(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        uri = str(request.rel_url)
        numbers = [
            {
                "sid": f"PN{i:032d}",
                "account_sid": self.account_sid,
                "phone_number": phone,
                "sms_url": self.messages_url or None,
                "capabilities": {"sms": True, "mms": False, "voice": False},
            }
            for i, phone in enumerate(sorted(self.held_numbers))
        ]
        return web.json_response(
            {
                "incoming_phone_numbers": numbers,
                "end": max(len(numbers) - 1, 0),
                "first_page_uri": uri,
                "next_page_uri": None,
                "page": 0,
                "page_size": len(numbers),
                "previous_page_uri": None,
                "start": 0,
                "uri": uri,
            }
        )

    # --- What the control routes play (tools/simulation/control_routes.py) ---

    @property
    def authorization(self) -> str:
        """The control routes' Authorization header: the account's, as its API takes it."""
        pair = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return f"Basic {pair}"

    def accepted_from(self, number: str | None) -> list[tuple[str, str, str | None]]:
        return [(a.sid, a.to, a.from_) for a in self.arrivals if number in (None, a.from_)]

    def control_authorized(self, request: web.Request) -> bool:
        return self._authorized(request, self.account_sid)

    def _resource(self, arrival: Arrival) -> dict[str, Any]:
        created = format_datetime(arrival.created_at, usegmt=True)
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": arrival.body,
            "date_created": created,
            "date_sent": created,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": arrival.from_,
            "messaging_service_sid": arrival.messaging_service_sid,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": arrival.sid,
            "status": "queued",
            "subresource_uris": {},
            "to": arrival.to,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{arrival.sid}.json",
        }


async def _post(
    session: ClientSession, url: str, params: Mapping[str, str], headers: dict[str, str]
) -> int:
    async with session.post(url, data=dict(params), headers=headers) as answer:
        return answer.status


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
