"""A NATS connection that reconnects forever and says so in the logs.

nats-py gives up after 60 attempts by default (about two minutes); a service that silently stops
receiving is worse than one that waits, so we never give up.
"""

from __future__ import annotations

from typing import Any

import nats
import structlog
from nats.aio.client import Client as NatsClient

from shared.settings import CommonSettings

log = structlog.get_logger(__name__)


async def connect_nats(
    url: str,
    name: str,
    *,
    user: str = "",
    password: str = "",
    inbox_prefix: str = "",
    **kwargs: Any,
) -> NatsClient:
    """`inbox_prefix`: where replies and JetStream pull deliveries arrive (settings'
    `nats_inbox_prefix`); empty keeps nats-py's `_INBOX`."""

    async def on_disconnected() -> None:
        log.warning("nats_disconnected", url=url)

    async def on_reconnected() -> None:
        log.info("nats_reconnected", url=url)

    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", error=str(exc), kind=type(exc).__name__)

    async def on_closed() -> None:
        log.info("nats_closed")

    options: dict[str, Any] = {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
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
    return await nats.connect(servers=[url], **options)


async def connect_configured(settings: CommonSettings, name: str, **kwargs: Any) -> NatsClient:
    """A connection as the settings say: server, NATS user and the user's own inbox prefix."""
    return await connect_nats(
        settings.nats_url, name, user=settings.nats_user, password=settings.nats_password,
        inbox_prefix=settings.nats_inbox_prefix, **kwargs,
    )  # fmt: skip
