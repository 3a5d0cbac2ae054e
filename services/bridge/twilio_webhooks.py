"""Twilio's webhooks: a contact's text (`/twilio/messages`) and status callbacks (`/twilio/status`).

Each request is checked first: bounded headers (431), a signature header, a form body (415 for
any other type) read within a time limit (408 for a stalled one) and bounded (413), then
`X-Twilio-Signature` with the SDK's `RequestValidator` over BATON_BRIDGE_PUBLIC_URL plus the
path (the URL Twilio was given, which behind a proxy is not the listener's) and the POST
parameters. Unsigned or wrongly signed: 403,
counted, nothing kept. A signed one is kept in the spool (durable) before the 2xx. Twilio's
signatures carry no time, so a replayed request is valid; it changes nothing, since it is the
same message (the spool keeps one per Nats-Msg-Id, `twilio:{account}:{MessageSid}`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from services.bridge.spool import Spool
from services.bridge.webhook_guard import (
    headers_too_large,
    media_type,
    read_body,
    refused,
)
from services.bridge.webhook_keep import keep_status, keep_text
from shared.contract.schemas.messaging import InboundSms, Receipt
from shared.contract.webhook_paths import TWILIO_MESSAGES_PATH, TWILIO_STATUS_PATH
from shared.domain.clock import Clock, utc_now

MESSAGES_PATH = TWILIO_MESSAGES_PATH
STATUS_PATH = TWILIO_STATUS_PATH
# Twilio's webhooks are form posts: a body of any other type is not Twilio.
FORM_TYPE = "application/x-www-form-urlencoded"
# Twilio's statuses, as receipts say them; the others (accepted, scheduled, read...) say nothing
# Baton keeps.
STATUSES: dict[str, Literal["sent", "delivered", "failed"]] = {
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioWebhooks:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        public_url: str,
        spool: Spool,
        body_timeout_seconds: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self._account = account_sid
        self._clock = clock
        self._body_timeout = body_timeout_seconds
        self._validator = RequestValidator(auth_token)
        self._public = public_url.rstrip("/")
        self._spool = spool

    def routes(self) -> list[Route]:
        return [
            Route(MESSAGES_PATH, self._signed(self._message), methods=["POST"]),
            Route(STATUS_PATH, self._signed(self._status), methods=["POST"]),
        ]

    def _signed(
        self, handle: Callable[[dict[str, str]], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if headers_too_large(request):
                return _refused("headers_too_large")
            signature = request.headers.get("x-twilio-signature")
            if not signature:
                return _refused("unsigned")
            if media_type(request) != FORM_TYPE:
                return _refused("not_a_form")
            body = await read_body(request, self._body_timeout)
            if isinstance(body, str):
                return _refused(body)
            params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            url = self._public + request.url.path
            if request.url.query:
                url += "?" + request.url.query
            if not self._validator.validate(url, params, signature):
                return _refused("bad_signature")
            if params.get("AccountSid") != self._account:
                return _refused("bad_signature")  # signed with our token, for no account of ours
            return await handle(params)

        return endpoint

    def _namespaced(self, sid: str) -> str:
        return f"twilio:{self._account}:{sid}"

    async def _message(self, params: dict[str, str]) -> Response:
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        if not sid:
            return Response("a MessageSid is required", status_code=400)
        text = InboundSms(
            provider_message_id=self._namespaced(sid),
            from_=params.get("From", ""),
            to=params.get("To", ""),
            body=params.get("Body", ""),
            received_at=self._clock().isoformat(),
        )
        await keep_text(self._spool, "twilio", text)
        # Empty TwiML: Baton answers through texters, never automatically from the webhook.
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def _status(self, params: dict[str, str]) -> Response:
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        twilio_status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        status = STATUSES.get(twilio_status)
        if not sid or status is None:
            return Response(status_code=204)  # nothing Baton keeps; answered, so not retried
        provider_id = self._namespaced(sid)
        code = params.get("ErrorCode")
        receipt = Receipt(
            status=status,
            provider_message_id=provider_id,
            error_code=f"twilio:{code}" if status == "failed" and code else None,
            from_=params.get("From") or None,
        )
        await keep_status(self._spool, "twilio", receipt, twilio_status)
        return Response(status_code=204)


def _refused(reason: str) -> Response:
    return refused("twilio", reason)
