"""The CLI's side of the NATS API: one request, one envelope, errors as exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client as NatsClient

from shared.cli import exit_codes
from shared.envelope import unwrap
from shared.errors import BatonError
from shared.nats_connection import connect_nats
from shared.settings import CommonSettings, SettingsError, load_settings


class Client:
    def __init__(self, nc: NatsClient, timeout: float = 60.0) -> None:
        self._nc = nc
        self._timeout = timeout

    async def call(self, subject: str, **payload: Any) -> Any:
        body = {k: v for k, v in payload.items() if v is not _OMIT}
        reply = await self._nc.request(subject, msgspec.json.encode(body), timeout=self._timeout)
        return unwrap(reply.data)


class _Omit:
    """A field the user did not give: left out of the request, not sent as null."""


_OMIT: Any = _Omit()
OMIT = _OMIT


@contextlib.asynccontextmanager
async def connected(settings: CommonSettings) -> AsyncIterator[Client]:
    async def quiet(*_: object) -> None:
        """A one-shot command has no use for connection-state logs."""

    nc = await connect_nats(
        settings.nats_url, "baton-cli", user=settings.nats_user, password=settings.nats_password,
        max_reconnect_attempts=1, disconnected_cb=quiet, closed_cb=quiet, error_cb=quiet,
    )  # fmt: skip
    try:
        yield Client(nc)
    finally:
        await nc.close()


def run_command(name: str, as_json: bool, action: Callable[[Client], Awaitable[Any]]) -> int:
    """Run `action` against Baton and print its result; map failures to exit codes."""
    try:
        settings = load_settings(CommonSettings)
    except SettingsError as exc:
        print(f"baton {name}: {exc}", file=sys.stderr)
        return exit_codes.USAGE

    async def go() -> Any:
        async with connected(settings) as client:
            return await action(client)

    try:
        result = asyncio.run(go())
    except BatonError as refusal:
        print(f"baton {name}: {refusal.code}: {refusal.message}", file=sys.stderr)
        return exit_codes.REFUSED
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        print(
            f"baton {name}: cannot reach Baton over NATS at {settings.nats_url}: {exc}",
            file=sys.stderr,
        )
        return exit_codes.DEPENDENCY
    print_result(result, as_json)
    return exit_codes.OK


def print_result(result: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
    elif isinstance(result, dict):
        width = max((len(k) for k in result), default=0)
        for key, value in result.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            print(f"{key:<{width}}  {shown}")
    else:
        print(result)
