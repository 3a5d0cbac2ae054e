"""The bridge service's definition: texts out to the SMS provider (a JetStream pull consumer on
OUTBOUND), and the provider's webhooks in (contacts' texts and status callbacks, through the
durable spool to INBOUND)."""

from __future__ import annotations

import asyncio

import structlog

from services.bridge.http_listener import Listener
from services.bridge.numbers import HeldNumbers
from services.bridge.outbound import OUTBOUND_CONSUMER, Outbound
from services.bridge.provider import Provider
from services.bridge.settings import PROVIDERS, BridgeSettings
from services.bridge.spool import Spool
from services.bridge.telnyx_provider import TelnyxProvider, telnyx_account
from services.bridge.telnyx_webhooks import WEBHOOKS_PATH, TelnyxWebhooks
from services.bridge.twilio_provider import TwilioProvider
from services.bridge.twilio_webhooks import STATUS_PATH, TwilioWebhooks
from shared.domain.redaction import redacted
from shared.runtime.service import ServiceContext, ServiceDefinition, Worker

log = structlog.get_logger(__name__)


def public_url(settings: BridgeSettings) -> str:
    """The base URL the provider calls; unset, the listener's own (local use and the demo)."""
    own = f"http://127.0.0.1:{settings.bridge_http_port}"
    return (settings.bridge_public_url or own).rstrip("/")


def twilio_from(settings: BridgeSettings) -> TwilioProvider:
    public = public_url(settings)
    return TwilioProvider(
        settings.twilio_account_sid,
        settings.twilio_token(),
        settings.twilio_api_url,
        messaging_service_sid=settings.twilio_messaging_service_sid,
        status_callback=f"{public}{STATUS_PATH}",
        timeout_seconds=settings.bridge_provider_timeout_seconds,
    )


def telnyx_from(settings: BridgeSettings) -> TelnyxProvider:
    return TelnyxProvider(
        settings.telnyx_key(),
        settings.telnyx_api_url,
        messaging_profile_id=settings.telnyx_messaging_profile_id,
        webhook_url=f"{public_url(settings)}{WEBHOOKS_PATH}",
        timeout_seconds=settings.bridge_provider_timeout_seconds,
    )


def provider_from(settings: BridgeSettings) -> Provider:
    if settings.bridge_provider == "telnyx":
        return telnyx_from(settings)
    return twilio_from(settings)


def webhooks_from(settings: BridgeSettings, spool: Spool) -> TwilioWebhooks | TelnyxWebhooks:
    if settings.bridge_provider == "telnyx":
        return TelnyxWebhooks(
            telnyx_account(settings.telnyx_messaging_profile_id),
            settings.telnyx_public_key,
            spool,
            settings.bridge_webhook_body_timeout_seconds,
        )
    return TwilioWebhooks(
        settings.twilio_account_sid,
        settings.twilio_token(),
        public_url(settings),
        spool,
        settings.bridge_webhook_body_timeout_seconds,
    )


def lease_seconds(settings: BridgeSettings) -> float:
    """How long one replica holds a text it took: a provider call, twice, and some margin."""
    return 2 * settings.bridge_provider_timeout_seconds + 10.0


def workers(context: ServiceContext[BridgeSettings]) -> list[Worker]:
    settings = context.settings
    if settings.bridge_provider not in PROVIDERS:
        # Only the status subject: a bridge with no provider configured (a test of every
        # service's common behaviour) has nothing to send through.
        log.warning("bridge_without_provider")
        return []
    provider = provider_from(settings)
    outbound = Outbound(
        context.pool,
        context.js,
        provider,
        default_rate=settings.bridge_default_rate,
        pool_rate=settings.bridge_pool_rate or settings.bridge_default_rate,
        max_in_flight=settings.bridge_max_in_flight,
        backlog_seconds=settings.bridge_number_backlog_seconds,
        lease_seconds=lease_seconds(settings),
        lookup_after_seconds=settings.bridge_lookup_after_seconds,
    )

    held = HeldNumbers(
        context.pool,
        provider.name,
        provider.account,
        provider.numbers,
        settings.bridge_numbers_sync_seconds,
    )
    spool = Spool(context.pool, context.js, settings.bridge_spool_write_timeout_seconds)
    webhooks = webhooks_from(settings, spool)
    listener = Listener(webhooks.routes(), settings.metrics_host, settings.bridge_http_port)
    log.info("webhooks_listening", port=listener.port, public_url=redacted(public_url(settings)))

    async def send(stop: asyncio.Event) -> None:
        try:
            await outbound.run(stop)
        finally:
            await provider.close()

    return [send, spool.run, listener.run, held.run]


DEFINITION = ServiceDefinition(
    name="bridge",
    settings_type=BridgeSettings,
    consumers=(OUTBOUND_CONSUMER,),
    workers=workers,
    # Nothing through the outbox: receipts and contacts' texts go straight to INBOUND.
    publishes=(),
)
