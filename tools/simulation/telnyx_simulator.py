"""A Telnyx stand-in that speaks Telnyx's v2 Messaging API wire format, for the tests and
`baton demo`.

A real HTTP server (aiohttp's): the bridge's official `telnyx` SDK reaches it over HTTP through
its `base_url`, exactly as it reaches https://api.telnyx.com/v2, so nothing in the SDK is
patched. What it does:

- `POST /v2/messages`: a JSON body with `to`, `from` or `messaging_profile_id`, `text`,
  `webhook_url`; `Authorization: Bearer <API key>`. Answers 200 with `{"data": <message>}`, or
  Telnyx's refusal `{"errors": [{"code": "40300", "title", "detail"}]}` with its HTTP status.
  An `Idempotency-Key` is honoured as Telnyx documents it: a successful answer is replayed to a
  second request with the same key and the same body (nothing sent again); the same key with
  another body is refused 422; a refusal is not kept, so the key may be tried again.
- `GET /v2/phone_numbers`: the numbers the account holds, in Telnyx's page format
  (`data`, `meta.page_number`, `meta.total_pages`).
- Errors chosen per destination number (`fail(to, code, status, times)`), answers held back
  (`delay_seconds`), and every accepted text recorded with its arrival time (`arrivals`), so a
  test counts the sends per message and measures each number's rate from the provider's side.
- Webhooks signed as Telnyx signs them, with an Ed25519 key pair generated here: the bridge is
  given `public_key` (BATON_TELNYX_PUBLIC_KEY); `telnyx-signature-ed25519` is the base64
  signature over `{telnyx-timestamp}|{raw body}`. `report` sends a text's status event to the
  `webhook_url` its send named; `received_event` is a contact's text.
- Beside a running Baton (`baton up --provider telnyx-simulator`, tools/simulation/
  simulator_process.py) it plays the carrier and the contacts: each accepted text that named a
  `webhook_url` gets Telnyx's `message.sent` and `message.finalized` (`delivered`) events
  (`reports_statuses`), and a contact's text goes to the messaging profile's webhook
  (`messages_url`) as `message.received` (`contact_text`), each waited for as long as Telnyx
  waits (2 s). `baton simulate` drives that from its own process through the control routes
  (tools/simulation/control_routes.py), with the API key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import ClientError, ClientSession, web
from nacl.signing import SigningKey

from services.bridge.settings import WEBHOOK_PATIENCE_SECONDS
from tools.simulation.control_routes import add_control_routes
from tools.simulation.http_stub import FailuresByNumber, StubServer

# The API's root under the server's (the SDK's `base_url` is the server's URL and this).
API_ROOT = "/v2"
MESSAGES_PATH = f"{API_ROOT}/messages"
NUMBERS_PATH = f"{API_ROOT}/phone_numbers"
# What Telnyx says of the codes the simulator answers by itself.
TITLES = {
    10009: "Authentication failed",
    10004: "Missing required parameter",
    10015: "Bad Request",
    40300: "Blocked due to STOP message",
    40310: "Invalid 'to' address",
}


def new_message_id() -> str:
    """A message's id, as Telnyx makes them."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Arrival:
    """One text the simulator accepted."""

    id: str
    to: str
    from_: str
    messaging_profile_id: str | None
    body: str
    webhook_url: str | None
    idempotency_key: str | None
    # Wall-clock time, and a monotonic one for rate measurements.
    created_at: datetime
    monotonic: float


@dataclass
class TelnyxSimulator(StubServer):
    api_key: str = field(default_factory=lambda: "KEY" + secrets.token_hex(16))
    # The account's webhook signing key; `public_key` is what the bridge is given.
    signing_key: SigningKey = field(default_factory=SigningKey.generate)
    # The numbers a messaging profile sends from when a text names none (its number pool).
    profile_numbers: dict[str, list[str]] = field(default_factory=dict)
    # Held before each POST is answered: a provider call's latency.
    delay_seconds: float = 0.0
    arrivals: list[Arrival] = field(default_factory=list)
    # Every POST that reached the simulator, accepted, replayed or refused.
    requests: int = 0
    # Requests answered from an Idempotency-Key's record (nothing sent again).
    replays: int = 0
    # The numbers the account holds (`GET /v2/phone_numbers`).
    held_numbers: set[str] = field(default_factory=set)
    # Where a contact's text to one of those numbers goes (the messaging profile's webhook URL:
    # the bridge's `/telnyx/webhooks`).
    messages_url: str = ""
    # Send Telnyx's status events (`message.sent`, then `message.finalized` with `delivered`)
    # for each accepted text that named a `webhook_url`, as the carrier would report it.
    reports_statuses: bool = False
    webhook_patience_seconds: ClassVar[float] = WEBHOOK_PATIENCE_SECONDS["telnyx"]
    _failures: FailuresByNumber = field(default_factory=FailuresByNumber)
    # Idempotency-Key -> (the body's bytes, the answer given).
    _keys: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """What BATON_TELNYX_API_URL is set to (the SDK's `base_url`)."""
        return f"{self.control_url}{API_ROOT}"

    @property
    def public_key(self) -> str:
        """What BATON_TELNYX_PUBLIC_KEY is set to: base64 of the 32-byte Ed25519 key."""
        return base64.b64encode(bytes(self.signing_key.verify_key)).decode("ascii")

    def fail(self, to: str, code: int, status: int = 400, times: int | None = None) -> None:
        """Answer texts to `to` with Telnyx error `code` (HTTP `status`), `times` times, or
        always."""
        self._failures.set(to, code, status, times)

    def sent_to(self, to: str) -> list[Arrival]:
        return [a for a in self.arrivals if a.to == to]

    def routes(self, app: web.Application) -> None:
        app.router.add_post(MESSAGES_PATH, self._create)
        app.router.add_get(NUMBERS_PATH, self._numbers)
        add_control_routes(app, self, lambda: _error(401, 10009, "Authentication failed"))

    # --- Webhooks, signed as Telnyx signs them ---

    def signature(self, timestamp: str, body: bytes) -> str:
        signed = self.signing_key.sign(timestamp.encode() + b"|" + body).signature
        return base64.b64encode(signed).decode("ascii")

    async def signed_post(
        self,
        url: str,
        event: dict[str, Any],
        *,
        timestamp: int | None = None,
        session: ClientSession | None = None,
    ) -> int:
        """POST `event` as JSON to `url`, signed at `timestamp` (now unless given: an old one
        is a replay); the HTTP status back. Through `session`, else one of its own."""
        body = json.dumps(event).encode()
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json",
            "telnyx-signature-ed25519": self.signature(stamp, body),
            "telnyx-timestamp": stamp,
        }
        if session is None or session.closed:
            async with ClientSession() as own:
                return await _post(own, url, body, headers)
        return await _post(session, url, body, headers)

    def received_event(
        self, message_id: str, from_: str, to: str, text: str, profile: str | None = None
    ) -> dict[str, Any]:
        """A contact's text, `message.received`, as Telnyx delivers it."""
        payload = {
            "id": message_id,
            "record_type": "message",
            "direction": "inbound",
            "type": "SMS",
            "messaging_profile_id": profile,
            "from": {"phone_number": from_, "carrier": "T-Mobile USA", "line_type": "Wireless"},
            "to": [{"phone_number": to, "status": "webhook_delivered"}],
            "text": text,
            "media": [],
            "errors": [],
            "received_at": datetime.now(UTC).isoformat(),
        }
        return _event("message.received", payload)

    def status_event(
        self,
        message_id: str,
        status: str,
        *,
        to: str = "+12025550123",
        from_: str = "+14155550100",
        error_code: int | None = None,
        profile: str | None = None,
    ) -> dict[str, Any]:
        """A text's status: `message.sent` for `sent`, `message.finalized` for the others."""
        errors = [] if error_code is None else [_error_body(error_code, "")["errors"][0]]
        payload = {
            "id": message_id,
            "record_type": "message",
            "direction": "outbound",
            "type": "SMS",
            "messaging_profile_id": profile,
            "from": {"phone_number": from_, "carrier": "Telnyx", "line_type": "VoIP"},
            "to": [{"phone_number": to, "status": status, "carrier": "T-Mobile USA",
                    "line_type": "Wireless"}],
            "errors": errors,
            "completed_at": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        kind = "message.sent" if status in ("queued", "sending", "sent") else "message.finalized"
        return _event(kind, payload)

    async def report(self, arrival: Arrival, status: str, error_code: int | None = None) -> int:
        """A status event for `arrival`, to the webhook URL its send named."""
        assert arrival.webhook_url, "the send named no webhook_url"
        event = self.status_event(
            arrival.id,
            status,
            to=arrival.to,
            from_=arrival.from_,
            error_code=error_code,
            profile=arrival.messaging_profile_id,
        )
        return await self.signed_post(arrival.webhook_url, event, session=self.outgoing.statuses)

    async def contact_text(self, from_: str, to: str, body: str, sid: str = "") -> tuple[str, int]:
        """A contact texts `to` (one of the account's numbers): `message.received` posted to
        `messages_url`, under the id `sid` when given (Telnyx's retry of a webhook that failed
        sends the same message again). The message's id, and the HTTP status answered."""
        message_id = sid or new_message_id()
        event = self.received_event(message_id, from_, to, body)
        return message_id, await self.signed_post(
            self.messages_url, event, session=self.outgoing.contacts
        )

    async def _report_statuses(self, arrival: Arrival) -> None:
        """The carrier's word on an accepted text, as Telnyx sends it: `sent`, `delivered`. An
        event nobody answered is not sent again here."""
        for status in ("sent", "delivered"):
            with contextlib.suppress(OSError, ClientError, TimeoutError):
                await self.report(arrival, status)

    # --- What the control routes play (tools/simulation/control_routes.py) ---

    @property
    def authorization(self) -> str:
        """The control routes' Authorization header: the API key, as the API takes it."""
        return f"Bearer {self.api_key}"

    def accepted_from(self, number: str | None) -> list[tuple[str, str, str | None]]:
        return [(a.id, a.to, a.from_) for a in self.arrivals if number in (None, a.from_)]

    def control_authorized(self, request: web.Request) -> bool:
        return self._authorized(request)

    # --- The Messaging API ---

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and secrets.compare_digest(key, self.api_key)

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if not self._authorized(request):
            return _error(401, 10009, "The required authentication headers were invalid.")
        raw = await request.read()
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self._keys:
            kept_body, answer = self._keys[key]
            if kept_body != raw:
                return _error(422, 10015, "Idempotency-Key reused with another request body.")
            self.replays += 1
            return web.json_response(answer)
        try:
            form = json.loads(raw)
        except ValueError:
            return _error(400, 10015, "The request failed because it was not well-formed.")
        to, text = str(form.get("to") or ""), str(form.get("text") or "")
        sender, profile = form.get("from"), form.get("messaging_profile_id")
        if not to:
            return _error(400, 10004, "A required parameter was missing: to.")
        failure = self._failures.next(to)
        if failure is not None:
            return _error(failure.status, failure.code, f"Error {failure.code} for {to}")
        if not sender:
            pool = self.profile_numbers.get(str(profile or ""))
            if not pool:
                return _error(400, 10004, "A required parameter was missing: from.")
            sender = pool[sum(map(ord, to)) % len(pool)]
        arrival = Arrival(
            id=new_message_id(),
            to=to,
            from_=str(sender),
            messaging_profile_id=None if profile is None else str(profile),
            body=text,
            webhook_url=form.get("webhook_url"),
            idempotency_key=key,
            created_at=datetime.now(UTC),
            monotonic=time.monotonic(),
        )
        self.arrivals.append(arrival)
        if self.reports_statuses and arrival.webhook_url:
            self.outgoing.in_background(self._report_statuses(arrival))
        answer = {"data": self._resource(arrival)}
        if key is not None:
            self._keys[key] = (raw, answer)
        return web.json_response(answer)

    async def _numbers(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 10009, "The required authentication headers were invalid.")
        numbers = [
            {
                "id": str(1_000_000 + i),
                "record_type": "phone_number",
                "phone_number": phone,
                "status": "active",
                "phone_number_type": "local",
                "country_iso_alpha2": "US",
                "created_at": "2026-01-01T00:00:00Z",
                "purchased_at": "2026-01-01T00:00:00Z",
                "deletion_lock_enabled": False,
                "tags": [],
            }
            for i, phone in enumerate(sorted(self.held_numbers))
        ]
        meta = {"page_number": 1, "page_size": max(len(numbers), 1), "total_pages": 1,
                "total_results": len(numbers)}  # fmt: skip
        return web.json_response({"data": numbers, "meta": meta})

    def _resource(self, arrival: Arrival) -> dict[str, Any]:
        at = arrival.created_at.isoformat()
        return {
            "record_type": "message",
            "direction": "outbound",
            "id": arrival.id,
            "type": "SMS",
            "messaging_profile_id": arrival.messaging_profile_id,
            "from": {"phone_number": arrival.from_, "carrier": "Telnyx", "line_type": "VoIP"},
            "to": [{"phone_number": arrival.to, "status": "queued", "carrier": "T-Mobile USA",
                    "line_type": "Wireless"}],
            "text": arrival.body,
            "media": [],
            "webhook_url": arrival.webhook_url,
            "webhook_failover_url": None,
            "encoding": "GSM-7",
            "parts": 1,
            "tags": [],
            "cost": None,
            "received_at": at,
            "sent_at": None,
            "completed_at": None,
            "valid_until": None,
            "errors": [],
        }  # fmt: skip


def _event(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "event_type": kind,
            "id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": payload,
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": ""},
    }


def _error_body(code: int, detail: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "code": str(code),
                "title": TITLES.get(code, f"Error {code}"),
                "detail": detail,
                "meta": {"url": f"https://developers.telnyx.com/api/errors/{code}"},
            }
        ]
    }


def _error(status: int, code: int, detail: str) -> web.Response:
    return web.json_response(_error_body(code, detail), status=status)


async def _post(session: ClientSession, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with session.post(url, data=body, headers=headers) as answer:
        return answer.status
