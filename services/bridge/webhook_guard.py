"""What every provider's webhook is checked for before its signature: bounded headers and body,
a body that arrives in time, the provider's content type; and how a refusal is answered and
counted (the webhook-signature alert reads `baton_bridge_webhook_rejected_total`)."""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import Response

from services.bridge.http_listener import MAX_HEADER_BYTES

log = structlog.get_logger(__name__)
# A provider's webhook is a few kilobytes at most (a 1,600-character text with its envelope);
# anything larger is not the provider.
MAX_BODY_BYTES = 64 * 1024
REJECTED = Counter(
    "baton_bridge_webhook_rejected_total",
    "Webhook requests refused before anything was read from them, by provider and reason "
    "(unsigned, bad_signature, stale, too_large, headers_too_large, not_a_form, not_json, "
    "body_stalled).",
    ["provider", "reason"],
)
# What each refusal answers; a wrong, missing or stale signature is 403.
REFUSAL_STATUS = {
    "too_large": 413,
    "headers_too_large": 431,
    "not_a_form": 415,
    "not_json": 415,
    "body_stalled": 408,
}


def headers_too_large(request: Request) -> bool:
    """h11 bounds only headers that arrive in pieces; a block that arrives whole is measured
    here, before anything in it is used."""
    return sum(len(k) + len(v) + 4 for k, v in request.headers.raw) > MAX_HEADER_BYTES


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, timeout_seconds: float) -> bytes | str:
    """The raw body, or the refusal's reason: `body_stalled` (not whole within the time),
    `too_large` (declared or found past MAX_BODY_BYTES)."""
    try:
        async with asyncio.timeout(timeout_seconds):
            body = await _bounded_body(request)
    except TimeoutError:
        return "body_stalled"
    return "too_large" if body is None else body


async def _bounded_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def refused(provider: str, reason: str) -> Response:
    REJECTED.labels(provider, reason).inc()
    log.warning("webhook_refused", provider=provider, reason=reason)
    return Response(status_code=REFUSAL_STATUS.get(reason, 403))
