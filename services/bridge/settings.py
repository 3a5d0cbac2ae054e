"""The bridge's settings: `BATON_<FIELD>` variables, beside shared/runtime/settings.py's common
ones.

The names of the provider's settings are a contract a deployment and an outside test rely on
(issue #31): BATON_BRIDGE_PROVIDER, BATON_TWILIO_*, BATON_TELNYX_*, BATON_BRIDGE_HTTP_PORT,
BATON_BRIDGE_PUBLIC_URL, BATON_BRIDGE_DEFAULT_RATE. Secrets are kept out of `repr`, so a settings
object that reaches a log line or a traceback carries none.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from shared.runtime.settings import CommonSettings, SettingsError, require

PROVIDERS = ("twilio", "telnyx")
# How long each provider waits for a webhook's 2xx before it counts the call failed: Twilio 15 s
# (then its fallback URL, once); Telnyx 2 s (then again, then the failover URL).
WEBHOOK_PATIENCE_SECONDS = {"twilio": 15.0, "telnyx": 2.0}
# What a webhook's answer needs besides the spool's write: the signature check, and the publish
# to INBOUND when the write timed out. The write timeout leaves this much of the patience.
WEBHOOK_ANSWER_MARGIN_SECONDS = 0.5


@dataclass(frozen=True)
class BridgeSettings(CommonSettings):
    metrics_port: int = 9105
    # `twilio` or `telnyx`; unset, `baton up` does not run the bridge (and it refuses to start).
    bridge_provider: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = field(default="", repr=False)
    twilio_auth_token_file: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    telnyx_api_key: str = field(default="", repr=False)
    telnyx_api_key_file: str = ""
    telnyx_public_key: str = ""
    telnyx_messaging_profile_id: str = ""
    telnyx_api_url: str = "https://api.telnyx.com/v2"
    # The webhook listener, and the base URL the provider calls (signatures are computed over
    # it; behind a proxy it differs from the listener).
    bridge_http_port: int = 8088
    bridge_public_url: str = ""
    # Texts per second per sending number, unless the number has a rate of its own
    # (`rate_per_second` on baton.admin.org.numbers.add): carriers set 10DLC, toll-free and
    # short-code rates per number.
    bridge_default_rate: float = 1.0
    # Texts per second for texts with no number of their own that the Messaging Service sends
    # from its pool (one lane for the whole pool: the bridge does not know its numbers); 0: the
    # default rate. Set it to the pool's numbers times their rate.
    bridge_pool_rate: float = 0.0
    # How long a webhook waits for Postgres to keep its message; past it (a Postgres that hangs
    # rather than refuses) the message goes straight to INBOUND. One default for both providers:
    # it leaves the margin inside Telnyx's 2 s, and a Postgres write slower than 1.5 s is a
    # Postgres in trouble under Twilio too.
    bridge_spool_write_timeout_seconds: float = 1.5
    # How long a webhook's body may take to arrive; a request that stalls it is answered 408
    # rather than held open.
    bridge_webhook_body_timeout_seconds: float = 10.0
    # Texts taken from OUTBOUND and not yet settled, across all numbers.
    bridge_max_in_flight: int = 2000
    # Texts one number may hold waiting for its rate; past it they go back to the stream for
    # later, so that a busy number never fills the bridge and a quiet one never waits behind it.
    bridge_number_backlog_seconds: float = 10.0
    # One provider call's limit; an attempt is leased to one replica for longer than this.
    bridge_provider_timeout_seconds: float = 10.0
    # How often the provider account's numbers are read again (baton.admin.org.numbers.add
    # accepts only numbers the account holds).
    bridge_numbers_sync_seconds: float = 60.0
    # A call whose answer never came is looked up in the provider's message list no sooner than
    # this after it (the list may lag a text just taken); until then the text waits.
    bridge_lookup_after_seconds: float = 10.0

    def validate(self) -> None:
        super().validate()
        require(
            self.bridge_provider in PROVIDERS,
            "bridge_provider",
            f"one of {', '.join(PROVIDERS)}: the bridge runs only with a provider",
        )
        if self.bridge_provider == "twilio":
            require(bool(self.twilio_account_sid), "twilio_account_sid", "set (the account's SID)")
            token_once = bool(self.twilio_auth_token) != bool(self.twilio_auth_token_file)
            require(
                token_once, "twilio_auth_token", "set, or BATON_TWILIO_AUTH_TOKEN_FILE, not both"
            )
            require(
                self.twilio_api_url.startswith(("https://", "http://")),
                "twilio_api_url",
                "an http(s):// URL",
            )
        if self.bridge_provider == "telnyx":
            key_once = bool(self.telnyx_api_key) != bool(self.telnyx_api_key_file)
            require(key_once, "telnyx_api_key", "set, or BATON_TELNYX_API_KEY_FILE, not both")
            require(
                _is_ed25519_public_key(self.telnyx_public_key),
                "telnyx_public_key",
                "the account's webhook public key (base64, 32 bytes: Mission Control > Keys)",
            )
            require(
                self.telnyx_api_url.startswith(("https://", "http://")),
                "telnyx_api_url",
                "an http(s):// URL",
            )
        require(0 <= self.bridge_http_port <= 65535, "bridge_http_port", "a port from 0 to 65535")
        require(
            not self.bridge_public_url
            or self.bridge_public_url.startswith(("https://", "http://")),
            "bridge_public_url",
            "an http(s):// URL",
        )
        require(0 < self.bridge_default_rate <= 1000, "bridge_default_rate", "0 < rate <= 1000")
        require(
            0 < self.bridge_spool_write_timeout_seconds <= 10,
            "bridge_spool_write_timeout_seconds",
            "0 < seconds <= 10",
        )
        if self.bridge_provider in PROVIDERS:
            patience = WEBHOOK_PATIENCE_SECONDS[self.bridge_provider]
            longest = patience - WEBHOOK_ANSWER_MARGIN_SECONDS
            require(
                self.bridge_spool_write_timeout_seconds <= longest,
                "bridge_spool_write_timeout_seconds",
                f"at most {longest:g} under {self.bridge_provider}, which waits {patience:g} s"
                f" for a webhook's answer",
            )
        require(
            0 < self.bridge_webhook_body_timeout_seconds <= 60,
            "bridge_webhook_body_timeout_seconds",
            "0 < seconds <= 60",
        )
        require(0 <= self.bridge_pool_rate <= 100_000, "bridge_pool_rate", "0 <= rate <= 100000")
        require(1 <= self.bridge_max_in_flight <= 100_000, "bridge_max_in_flight", "1..100000")
        require(
            self.bridge_number_backlog_seconds > 0,
            "bridge_number_backlog_seconds",
            "greater than 0",
        )
        require(
            self.bridge_numbers_sync_seconds > 0, "bridge_numbers_sync_seconds", "greater than 0"
        )
        require(
            0 <= self.bridge_lookup_after_seconds <= 600, "bridge_lookup_after_seconds", "0..600"
        )
        # Under the OUTBOUND consumer's ack_wait (15 s): a call in hand is never redelivered.
        require(
            0 < self.bridge_provider_timeout_seconds <= 12,
            "bridge_provider_timeout_seconds",
            "0 < seconds <= 12",
        )
        require(
            self.bridge_number_backlog_seconds <= 12,
            "bridge_number_backlog_seconds",
            "at most 12 (a text waits for its slot within the ack wait)",
        )

    def twilio_token(self) -> str:
        """The auth token, from the setting or its file (a mounted secret)."""
        if self.twilio_auth_token_file:
            try:
                return Path(self.twilio_auth_token_file).read_text().strip()
            except OSError as exc:
                raise SettingsError(f"BATON_TWILIO_AUTH_TOKEN_FILE: {exc.strerror}") from None
        return self.twilio_auth_token

    def telnyx_key(self) -> str:
        """The API key, from the setting or its file (a mounted secret)."""
        if self.telnyx_api_key_file:
            try:
                return Path(self.telnyx_api_key_file).read_text().strip()
            except OSError as exc:
                raise SettingsError(f"BATON_TELNYX_API_KEY_FILE: {exc.strerror}") from None
        return self.telnyx_api_key


def _is_ed25519_public_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False
