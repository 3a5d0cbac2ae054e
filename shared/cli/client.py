"""The CLI's side of the NATS API: the one client (shared/client.py) on a connection made from
the settings, errors as exit codes.

Every request carries the caller's bearer token (shared/cli/credentials.py); a client made without
credentials sends none, which only the status subjects accept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats.errors

from shared.cli import exit_codes
from shared.cli.credentials import UsageError, credentials_from_args
from shared.cli.running_up import beside_up
from shared.client import BatonClient, Credentials
from shared.errors import BatonError
from shared.nats_connection import connect_configured
from shared.settings import CommonSettings, SettingsError, load_settings
from shared.tokens import KeyConfigError


class _Omit:
    """A field the user did not give: left out of the request, not sent as null."""


_OMIT: Any = _Omit()
OMIT = _OMIT


@contextlib.asynccontextmanager
async def connected(
    settings: CommonSettings, credentials: Credentials | None = None
) -> AsyncIterator[BatonClient]:
    async def quiet(*_: object) -> None:
        """A one-shot command has no use for connection-state logs."""

    nc = await connect_configured(
        settings, "baton-cli", max_reconnect_attempts=1, disconnected_cb=quiet, closed_cb=quiet,
        error_cb=quiet,
    )  # fmt: skip
    try:
        yield BatonClient(nc, credentials=credentials)
    finally:
        await nc.close()


def run_command(
    name: str, args: argparse.Namespace, action: Callable[[BatonClient], Awaitable[Any]]
) -> int:
    """Run `action` against Baton as the caller `args` names (`--as`, else BATON_TOKEN) and print
    its result (`--json`: as JSON); map failures to exit codes."""
    try:
        settings = beside_up(load_settings(CommonSettings), args.data_dir)
        credentials = credentials_from_args(args, settings)
    except (SettingsError, KeyConfigError, UsageError) as exc:
        print(f"baton {name}: {exc}", file=sys.stderr)
        return exit_codes.USAGE

    async def go() -> Any:
        async with connected(settings, credentials) as client:
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
    print_result(result, args.json)
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
