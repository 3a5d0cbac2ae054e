"""Telnyx's webhooks, both kinds at `/telnyx/webhooks`: a contact's text (`message.received`) and
status events (`message.sent`, `message.finalized`).

Each request is checked first, as Twilio's are (webhook_guard.py): bounded headers (431), the
two signature headers, a JSON body (415 for any other type) read within a time limit (408) and
bounded (413). Then the signature, with the SDK's own verifier
(`telnyx.lib.webhook_verification`): Ed25519 over `{telnyx-timestamp}|{raw body}` with the
account's public key (BATON_TELNYX_PUBLIC_KEY). Telnyx signs no URL, so the public URL plays no
part. A timestamp more than the SDK's tolerance (5 minutes) from now is stale: a replay, refused
before the signature is even checked. Unsigned, wrongly signed or stale: 403, counted, nothing
kept. A replay inside the window changes nothing: it is the same message, and the spool keeps one
per Nats-Msg-Id (`telnyx:{account}:{message id}`, and `...:{status}` for a status).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telnyx.lib.webhook_verification import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TIMESTAMP_TOLERANCE_SECONDS,
    WebhookVerificationError,
    verify_webhook_signature,
)

from services.bridge.spool import Spool
from services.bridge.webhook_guard import (
    headers_too_large,
    media_type,
    read_body,
    refused,
)
from services.bridge.webhook_keep import keep_status, keep_text
from shared.contract.schemas.messaging import InboundSms, Receipt
from shared.contract.webhook_paths import TELNYX_WEBHOOKS_PATH
from shared.domain.clock import Clock, utc_now

WEBHOOKS_PATH = TELNYX_WEBHOOKS_PATH
JSON_TYPE = "application/json"
# A recipient's status in `payload.to[].status`, as receipts say it; the others
# (delivery_unconfirmed, read, webhook_delivered...) say nothing Baton keeps.
STATUSES: dict[str, Literal["sent", "delivered", "failed"]] = {
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "sending_failed": "failed",
    "delivery_failed": "failed",
    "expired": "failed",
}
STATUS_EVENTS = frozenset({"message.sent", "message.finalized"})


class TelnyxWebhooks:
    def __init__(
        self,
        account: str,
        public_key: str,
        spool: Spool,
        body_timeout_seconds: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self._account = account
        self._public_key = public_key
        self._clock = clock
        self._spool = spool
        self._body_timeout = body_timeout_seconds

    def routes(self) -> list[Route]:
        return [Route(WEBHOOKS_PATH, self._endpoint, methods=["POST"])]

    async def _endpoint(self, request: Request) -> Response:
        if headers_too_large(request):
            return _refused("headers_too_large")
        signature = request.headers.get(SIGNATURE_HEADER)
        timestamp = request.headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            return _refused("unsigned")
        if media_type(request) != JSON_TYPE:
            return _refused("not_json")
        body = await read_body(request, self._body_timeout)
        if isinstance(body, str):
            return _refused(body)
        if not timestamp.isdigit():
            return _refused("bad_signature")
        if abs(self._clock().timestamp() - int(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS:
            return _refused("stale")
        try:
            verify_webhook_signature(body, _headers(request), self._public_key)
        except (WebhookVerificationError, UnicodeDecodeError):
            return _refused("bad_signature")
        try:
            event = json.loads(body)["data"]
            kind, payload = str(event["event_type"]), event["payload"]
        except (ValueError, KeyError, TypeError):
            return Response("a Telnyx event is required", status_code=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
            return Response("a message id is required", status_code=400)
        if kind == "message.received":
            return await self._message(payload)
        if kind in STATUS_EVENTS:
            return await self._status(payload)
        return Response(status_code=200)  # nothing Baton keeps; answered, so not retried

    def _namespaced(self, message_id: str) -> str:
        return f"telnyx:{self._account}:{message_id}"

    async def _message(self, payload: dict[str, Any]) -> Response:
        text = InboundSms(
            provider_message_id=self._namespaced(payload["id"]),
            from_=_phone(payload.get("from")),
            to=_phone(_first(payload.get("to"))),
            body=str(payload.get("text") or ""),
            received_at=self._clock().isoformat(),
        )
        await keep_text(self._spool, "telnyx", text)
        return Response(status_code=200)

    async def _status(self, payload: dict[str, Any]) -> Response:
        recipient = _first(payload.get("to"))
        telnyx_status = str(recipient.get("status") or "") if isinstance(recipient, dict) else ""
        status = STATUSES.get(telnyx_status)
        if status is None:
            return Response(status_code=200)
        provider_id = self._namespaced(payload["id"])
        code = _error_code(payload.get("errors"))
        receipt = Receipt(
            status=status,
            provider_message_id=provider_id,
            error_code=f"telnyx:{code}" if status == "failed" and code else None,
            from_=_phone(payload.get("from")) or None,
        )
        await keep_status(self._spool, "telnyx", receipt, telnyx_status)
        return Response(status_code=200)


def _headers(request: Request) -> Mapping[str, str]:
    return {
        SIGNATURE_HEADER: request.headers[SIGNATURE_HEADER],
        TIMESTAMP_HEADER: request.headers[TIMESTAMP_HEADER],
    }


def _first(value: object) -> object:
    """Telnyx's `to` is a list of recipients (one for SMS)."""
    return value[0] if isinstance(value, list) and value else value


def _phone(value: object) -> str:
    """`{"phone_number": "+1...", "carrier": ..., ...}`, as Telnyx names a party."""
    if isinstance(value, dict):
        return str(value.get("phone_number") or "")
    return ""


def _error_code(errors: object) -> str | None:
    first = _first(errors)
    if isinstance(first, dict) and first.get("code") is not None:
        return str(first["code"])
    return None


def _refused(reason: str) -> Response:
    return refused("telnyx", reason)
