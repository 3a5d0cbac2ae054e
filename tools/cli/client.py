"""The CLI's side of the NATS API: the one client (shared/runtime/client.py) on a connection made
from the settings, errors as exit codes.

Every request carries the caller's bearer token (shared/runtime/commands/credentials.py); a client
made without credentials sends none, which only the status subjects accept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import nats.errors
from nats.aio.client import Client as NatsClient

from shared.contract.errors import BatonError
from shared.domain.redaction import redacted
from shared.runtime.client import BatonClient, Credentials, RetryPolicy
from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import UsageError, credentials_from_args
from shared.runtime.commands.running_up import CliSettings, cli_settings
from shared.runtime.nats_connection import connect_configured
from shared.runtime.settings import SettingsError
from shared.runtime.tokens import KeyConfigError


class _Omit:
    """A field the user did not give: left out of the request, not sent as null."""


_OMIT: Any = _Omit()
OMIT = _OMIT

# What `add_subparsers()` returns, which every command module adds its commands to.
SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def waiting_policy(settings: CliSettings) -> RetryPolicy:
    """A command's patience with a Baton that is not listening: it says once what it waits for
    and where, and gives up after `BATON_CLI_NO_RESPONDERS_SECONDS`."""
    seconds = settings.cli_no_responders_seconds
    said: set[str] = set()

    def say(subject: str) -> None:
        if said:
            return  # once per command, however many calls wait side by side
        said.add(subject)
        print(
            f"waiting for a Baton service to answer {subject} on {redacted(settings.nats_url)} "
            f"(giving up after {seconds:g} s)",
            file=sys.stderr,
            flush=True,
        )

    return RetryPolicy(no_responders_seconds=seconds, waiting_for=say)


async def cli_connection(
    settings: CliSettings, name: str = "baton-cli", *, reconnect_attempts: int = 1
) -> NatsClient:
    """A command's NATS connection: as the settings say, and without connection-state logs (a
    failure to connect is the command's own error message)."""

    async def quiet(*_: object) -> None:
        pass

    return await connect_configured(
        settings,
        name,
        max_reconnect_attempts=reconnect_attempts,
        disconnected_cb=quiet,
        closed_cb=quiet,
        error_cb=quiet,
    )


@contextlib.asynccontextmanager
async def connected(
    settings: CliSettings, credentials: Credentials | None = None
) -> AsyncIterator[BatonClient]:
    nc = await cli_connection(settings)
    try:
        yield BatonClient(nc, credentials=credentials, retry=waiting_policy(settings))
    finally:
        await nc.close()


def run_command(
    name: str, args: argparse.Namespace, action: Callable[[BatonClient], Awaitable[Any]]
) -> int:
    """Run `action` against Baton as the caller `args` names (`--as`, else BATON_TOKEN) and print
    its result (`--json`: as JSON); map failures to exit codes."""
    try:
        settings = cli_settings(args.data_dir)
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
            f"baton {name}: cannot reach Baton over NATS at {redacted(settings.nats_url)}: {exc}",
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
