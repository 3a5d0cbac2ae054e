"""What a provider's answer means for a text: declared once, per provider, by code.

- `retry`: the provider did not take it, and may later (rate limits, queue overflow, its own
  outage). Tried again after the one jittered back-off (shared/runtime/backoff.py).
- `final`: refused for good (an invalid, unreachable or landline number, carrier filtering); a
  `failed` receipt names the code. Unknown codes are final too, and counted: never retried forever.
- `credentials`: the provider refused the account itself (HTTP 401/403, a wrong or rotated auth
  token, a suspended account): a deployment problem, not the text's. The text is not settled; it
  goes back to the stream after the back-off until an operator fixes the credentials, and the
  bridge says so loudly (an error log, baton_bridge_provider_credentials_refused, an alert).
- `opt_out`: the carrier's own opt-out of the contact (Twilio 21610, Telnyx 40300): final, and
  Baton records the contact's opt-out in the text's organization as a STOP would, with no
  confirmation text.

Codes are namespaced by provider wherever Baton keeps them (`twilio:21610`, `telnyx:40300`): the
two providers' numbers overlap in meaning nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["retry", "final", "opt_out", "credentials"]

# Twilio's codes (https://www.twilio.com/docs/api/errors), each with why it is where it is.
TWILIO_CODES: dict[int, tuple[Kind, str]] = {
    20429: ("retry", "too many requests"),
    30001: ("retry", "queue overflow"),
    21611: ("retry", "the number's queue of messages is full"),
    21211: ("final", "invalid 'To' number"),
    21614: ("final", "'To' is not a mobile number (a landline or unreachable)"),
    21408: ("final", "no permission to send to the region"),
    21606: ("final", "'From' cannot send to this number"),
    30003: ("final", "unreachable destination"),
    30005: ("final", "unknown destination"),
    30006: ("final", "landline or unreachable carrier"),
    30007: ("final", "carrier filtering"),
    21610: ("opt_out", "the contact replied STOP to this number at the carrier"),
    20003: ("credentials", "authentication failed: a wrong or rotated auth token"),
    20005: ("credentials", "the account is not active (suspended or closed)"),
    20006: ("credentials", "access denied to the account's resource"),
    10001: ("credentials", "the account is not active"),
}
# Telnyx's codes (https://developers.telnyx.com/api/errors/<code>, the Messaging Error Code
# Reference and the API error codes; docs/providers.md cites each). Telnyx puts them in its error
# body as strings: `{"errors": [{"code": "40300", "title": ..., "detail": ...}]}`.
TELNYX_CODES: dict[int, tuple[Kind, str]] = {
    10011: ("retry", "too many requests (HTTP 429)"),
    # At send time Telnyx did not take the text; after acceptance the same code arrives as a
    # delivery failure (message.finalized), which is final there like every delivery failure.
    40011: ("retry", "upstream (carrier) rate limit exceeded"),
    10002: ("final", "invalid phone number"),
    10016: ("final", "the phone number is not in +E.164 format"),
    40310: ("final", "invalid 'to' address (HTTP 400)"),
    40001: ("final", "not routable: a landline or non-routable number"),
    40002: ("final", "blocked as spam by the carrier (temporary): carrier filtering"),
    40003: ("final", "blocked as spam by the carrier (permanent): carrier filtering"),
    40008: ("final", "undeliverable: the carrier did not accept the message"),
    40012: ("final", "the carrier rejected the destination number"),
    40013: ("final", "the carrier rejected the sending number"),
    40300: ("opt_out", "blocked due to STOP message: the contact sent STOP to this number"),
    10009: ("credentials", "authentication failed: a wrong or revoked API key"),
    10010: ("credentials", "authorization failed: the key may not send from this resource"),
}
# HTTP statuses that refuse the caller, not the text, whatever code comes with them.
CREDENTIALS_STATUSES = frozenset({401, 403})
# A text with no number of its own, no Messaging Service (or profile) to pick one, and no number
# of its organization's that the provider account holds: failed without calling the provider.
NO_SENDING_NUMBER = "bridge:no_sending_number"
# Codes a `failed` receipt may carry that mean the carrier opted the contact out: the one list
# the sender reads (services/sender/receipts.py), namespaced as receipts carry codes.
PROVIDER_CODES: dict[str, dict[int, tuple[Kind, str]]] = {
    "twilio": TWILIO_CODES,
    "telnyx": TELNYX_CODES,
}
CARRIER_OPT_OUT_CODES = frozenset(
    f"{provider}:{code}"
    for provider, codes in PROVIDER_CODES.items()
    for code, (kind, _) in codes.items()
    if kind == "opt_out"
)


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    # `{provider}:{code}` (`twilio:30007`, `twilio:http_503`), as the receipt carries it.
    code: str
    known: bool
    # A server error (5xx) does not say the text was not taken: a gateway may fail after the
    # provider accepted it. Such a text is looked up before it is sent again.
    maybe_taken: bool = False


def twilio_outcome(status: int, code: int | None) -> Outcome:
    """The meaning of a Twilio error answer: its HTTP status and its JSON `code`."""
    return _outcome("twilio", status, code)


def telnyx_outcome(status: int, code: int | None) -> Outcome:
    """The meaning of a Telnyx error answer: its HTTP status and its first error's `code`. A 409
    with no code known here is Telnyx's answer to a second request with the same Idempotency-Key
    while the first is still in hand: that text may be taken, so it is looked up (sent again with
    its key) later, never failed."""
    if status == 409 and (code is None or code not in TELNYX_CODES):
        named = code if code is not None else f"http_{status}"
        return Outcome("retry", f"telnyx:{named}", known=True, maybe_taken=True)
    return _outcome("telnyx", status, code)


def _outcome(provider: str, status: int, code: int | None) -> Outcome:
    codes = PROVIDER_CODES[provider]
    if code is not None and code in codes:
        return Outcome(codes[code][0], f"{provider}:{code}", known=True)
    named = code if code is not None and code != status else f"http_{status}"
    if status in CREDENTIALS_STATUSES:
        return Outcome("credentials", f"{provider}:{named}", known=True)
    if status == 429 or status >= 500:
        return Outcome("retry", f"{provider}:{named}", known=True, maybe_taken=status >= 500)
    return Outcome("final", f"{provider}:{named}", known=False)


def is_carrier_opt_out(error_code: str | None) -> bool:
    return error_code in CARRIER_OPT_OUT_CODES
