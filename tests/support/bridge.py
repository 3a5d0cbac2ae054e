"""The provider bridge's settings for a test: its servers, and the Twilio or Telnyx simulator's
account."""

from __future__ import annotations

from typing import Any

from services.bridge.settings import BridgeSettings
from shared.runtime.settings import CommonSettings
from tools.simulation.telnyx_simulator import TelnyxSimulator
from tools.simulation.twilio_simulator import TwilioSimulator


def bridge_settings(
    settings: CommonSettings, sim: TwilioSimulator, **overrides: Any
) -> BridgeSettings:
    """Port 0 for the webhook listener unless a test names one: nothing else's port is taken."""
    overrides.setdefault("bridge_http_port", 0)
    overrides.setdefault("bridge_lookup_after_seconds", 1.0)
    overrides.setdefault("twilio_auth_token", sim.auth_token)
    return BridgeSettings(
        database_url=settings.database_url, nats_url=settings.nats_url, db_pool_min=1,
        bridge_provider="twilio", twilio_account_sid=sim.account_sid,
        twilio_api_url=sim.url,
        bridge_provider_timeout_seconds=2.0, **overrides,
    )  # fmt: skip


def telnyx_bridge_settings(
    settings: CommonSettings, sim: TelnyxSimulator, **overrides: Any
) -> BridgeSettings:
    """The same, for the Telnyx simulator: its API key, its webhook public key, its URL."""
    overrides.setdefault("bridge_http_port", 0)
    overrides.setdefault("bridge_lookup_after_seconds", 1.0)
    overrides.setdefault("telnyx_api_key", sim.api_key)
    return BridgeSettings(
        database_url=settings.database_url, nats_url=settings.nats_url, db_pool_min=1,
        bridge_provider="telnyx", telnyx_public_key=sim.public_key, telnyx_api_url=sim.url,
        bridge_provider_timeout_seconds=2.0, **overrides,
    )  # fmt: skip
