"""A NATS connection that reconnects forever, backing off with jitter, and says so in the logs.

nats-py gives up after 60 attempts by default (about two minutes); a service that silently stops
receiving is worse than one that waits, so we never give up. It waits a fixed
`reconnect_time_wait` between attempts and has no jitter of its own, so every replica cut off at
once would knock in step: each failed attempt draws the next wait from shared/runtime/backoff.py
instead (nats-py reads the option afresh before each attempt), and a reconnection starts it over.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from nats.aio.client import Client as NatsClient

from shared.domain.redaction import redacted
from shared.runtime.backoff import Backoff
from shared.runtime.repeated_headers import RepeatAwareClient
from shared.runtime.settings import CommonSettings

log = structlog.get_logger(__name__)


@dataclass
class ConnectionWatch:
    """When a connection was last lost, and what to run once it is back (with that time)."""

    lost_at: float | None = None
    on_reconnected: list[Callable[[float], Awaitable[None]]] = field(default_factory=list)


async def connect_nats(
    url: str,
    name: str,
    *,
    user: str = "",
    password: str = "",
    inbox_prefix: str = "",
    watch: ConnectionWatch | None = None,
    **kwargs: Any,
) -> NatsClient:
    """`inbox_prefix`: where replies and JetStream pull deliveries arrive (settings'
    `nats_inbox_prefix`); empty keeps nats-py's `_INBOX`."""

    # Headers parsed so that a repeated Authorization is seen (shared/runtime/repeated_headers.py).
    client = RepeatAwareClient()
    backoff = Backoff(base=0.5, cap=5.0)

    async def on_disconnected() -> None:
        if watch is not None:
            watch.lost_at = time.monotonic()
        log.warning("nats_disconnected", url=redacted(url))

    async def on_reconnected() -> None:
        backoff.reset()
        client.options["reconnect_time_wait"] = backoff.next_delay()
        log.info("nats_reconnected", url=redacted(url))
        if watch is not None and watch.lost_at is not None:
            for hook in watch.on_reconnected:
                await hook(watch.lost_at)

    async def on_error(exc: Exception) -> None:
        # An attempt failed, while reconnecting or still making the first connection (nats-py
        # retries that inside connect()): wait longer before the next one.
        if not client.is_connected:
            client.options["reconnect_time_wait"] = backoff.next_delay()
        log.warning("nats_error", error=str(exc), kind=type(exc).__name__)

    async def on_closed() -> None:
        log.info("nats_closed")

    options: dict[str, Any] = {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": backoff.next_delay(),
        "connect_timeout": 5,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        "error_cb": on_error,
        "closed_cb": on_closed,
        # Keep the initial connection retrying too: NatsClient may start after us in Compose.
        "allow_reconnect": True,
    }
    if user:
        options["user"] = user
        options["password"] = password
    if inbox_prefix:
        options["inbox_prefix"] = inbox_prefix
    options.update(kwargs)
    await client.connect(servers=[url], **options)
    return client


async def connect_configured(settings: CommonSettings, name: str, **kwargs: Any) -> NatsClient:
    """A connection as the settings say: server, NATS user and the user's own inbox prefix."""
    return await connect_nats(
        settings.nats_url,
        name,
        user=settings.nats_user,
        password=settings.nats_password,
        inbox_prefix=settings.nats_inbox_prefix,
        **kwargs,
    )
