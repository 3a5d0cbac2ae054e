"""Telnyx, through its official SDK: send a text, with an Idempotency-Key that makes a second
send of it harmless.

The SDK's client takes a `base_url` (its documented option): BATON_TELNYX_API_URL, which the
tests and `baton demo` point at the simulator (tools/simulation/telnyx_simulator.py). Its own
retries are off (`max_retries=0`): it would retry a 409 and a 5xx by itself, and the bridge owns
every retry, after its record of the attempt.

Telnyx has no message list to search after a crash, but `POST /v2/messages` takes an
`Idempotency-Key` (https://developers.telnyx.com/docs/development/api-fundamentals/idempotency):
for 24 hours a second request with the same key and the same body answers the first one's
message instead of sending another. Every send carries `baton-{message_id}`, so the send itself
is the lookup: `find` says "not found" and the text is sent again with its key, which sends
nothing new if the first call was taken. Past the key's window that is no longer safe, and the
text is held for an operator (never sent blind).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import telnyx

from services.bridge.provider import (
    CONNECTIONS,
    Accepted,
    ProviderRefusedError,
    ProviderUnreachableError,
)
from shared.contract.schemas.messaging import OutboundSms
from shared.domain.clock import Clock, utc_now
from shared.domain.provider_codes import telnyx_outcome

# Telnyx replays a successful answer for 24 hours; a margin for clocks and the lookup delay.
IDEMPOTENCY_WINDOW = timedelta(hours=23)
NUMBERS_PAGE = 250
# Connections kept open to Telnyx, as many as may be in use: the SDK's default keeps 20 of its 100
# alive, so under load every call past 20 at once opened and closed a connection of its own.
LIMITS = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
# The account label in provider ids when no messaging profile is configured: Telnyx's message ids
# are UUIDs, unique across Telnyx, so the namespace only keeps them apart from other providers'.
DEFAULT_ACCOUNT = "default"


def idempotency_key(text: OutboundSms) -> str:
    """One key per text, whichever attempt sends it (Telnyx: `^[A-Za-z0-9_:-]{1,255}$`)."""
    return f"baton-{text.message_id}"


def telnyx_account(messaging_profile_id: str) -> str:
    """The `{account}` in `telnyx:{account}:{id}`: the messaging profile, or `default`."""
    return messaging_profile_id or DEFAULT_ACCOUNT


def error_code(body: object) -> int | None:
    """The first error's code in Telnyx's `{"errors": [{"code": "40300", ...}]}` (a string)."""
    if not isinstance(body, dict):
        return None
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    code = errors[0].get("code")
    if isinstance(code, int):
        return code
    return int(code) if isinstance(code, str) and code.isdigit() else None


class TelnyxProvider:
    name = "telnyx"

    def __init__(
        self,
        api_key: str,
        api_url: str,
        *,
        messaging_profile_id: str = "",
        webhook_url: str = "",
        timeout_seconds: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self.account = telnyx_account(messaging_profile_id)
        self._clock = clock
        self._profile = messaging_profile_id
        self.picks_numbers = bool(messaging_profile_id)
        self._webhook_url = webhook_url
        # The SDK's own aiohttp-backed client (its documented option for concurrency), with our
        # limits; httpx's own pool spends its time sorting waiting requests under load.
        http = telnyx.DefaultAioHttpClient(limits=LIMITS, timeout=timeout_seconds)
        self._client = telnyx.AsyncTelnyx(
            api_key=api_key,
            base_url=api_url,
            max_retries=0,
            timeout=timeout_seconds,
            http_client=http,
        )
        # The SDK imports its several hundred resource modules on first use: done here, at
        # start, rather than inside the first text's call (seconds on a busy machine).
        _ = self._client.messages, self._client.phone_numbers

    def namespaced(self, message_id: str) -> str:
        return f"{self.name}:{self.account}:{message_id}"

    async def send(self, text: OutboundSms) -> Accepted:
        """The text, handed to Telnyx from its number (or the messaging profile's pool)."""
        options: dict[str, Any] = {
            "to": text.to,
            "text": text.body,
            "idempotency_key": idempotency_key(text),
        }
        if text.from_number:
            options["from_"] = text.from_number
        else:
            options["messaging_profile_id"] = self._profile
        if self._webhook_url:
            # Status webhooks for this text come here, whatever the profile's own URL says.
            options["webhook_url"] = self._webhook_url
        answer = await self._call(self._client.messages.send(**options))
        message = answer.data
        if message is None or not message.id:
            raise ProviderUnreachableError("an answer without a message")  # looked up again
        sender = message.from_.phone_number if message.from_ is not None else None
        return Accepted(self.namespaced(message.id), sender or text.from_number)

    async def find(self, text: OutboundSms, since: datetime) -> Accepted | None:
        """None: the text is sent again with its Idempotency-Key, which Telnyx answers with the
        first call's message if it took it. Past the key's window the answer is unknowable here:
        the text waits for an operator (an error each time it comes back), never sent blind."""
        if self._clock() - since > IDEMPOTENCY_WINDOW:
            raise ProviderUnreachableError(
                f"text {text.message_id}: its first call is past Telnyx's idempotency window;"
                " held for an operator"
            )
        return None

    async def numbers(self) -> list[str]:
        """Every number the account holds (`GET /v2/phone_numbers`), E.164."""
        held: list[str] = []
        pages = self._client.phone_numbers.list(page_size=NUMBERS_PAGE)
        try:
            async for number in pages:
                if number.phone_number:
                    held.append(number.phone_number)
        except telnyx.APIStatusError as exc:
            raise ProviderRefusedError(
                telnyx_outcome(exc.status_code, error_code(exc.body))
            ) from None
        except telnyx.APIConnectionError as exc:
            raise ProviderUnreachableError(type(exc).__name__) from None
        return held

    async def _call(self, call: Any) -> Any:
        try:
            return await call
        except telnyx.APIStatusError as exc:
            raise ProviderRefusedError(
                telnyx_outcome(exc.status_code, error_code(exc.body))
            ) from None
        except telnyx.APIConnectionError as exc:  # timeouts included
            raise ProviderUnreachableError(type(exc).__name__) from None

    async def close(self) -> None:
        await self._client.close()
