"""`baton migrate`, `baton service NAME`, `baton status`: operating a running Baton."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import msgspec
import nats.errors

from shared.contract import catalogue as api
from shared.contract.catalogue import SERVICE_NAMES, ServiceName
from shared.contract.errors import BatonError
from shared.contract.schemas.system import StatusRequest
from shared.domain.redaction import redacted
from shared.runtime.commands import exit_codes, migrate_command
from shared.runtime.commands.credentials import add_data_dir, dev_secret_path, services_have_a_key
from shared.runtime.commands.running_up import cli_settings
from shared.runtime.settings import SettingsError
from tools.cli.client import connected
from tools.cli.running_bridge import running_services


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate_command.add_parser(commands)  # the image runs it too (shared/runtime/commands)
    service = commands.add_parser("service", help="run one service in the foreground")
    service.add_argument("name", choices=SERVICE_NAMES)
    add_data_dir(service)
    service.set_defaults(run=run_service)

    status = commands.add_parser("status", help="ask every running service how it is")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_data_dir(status)
    status.set_defaults(run=run_status)


def run_service(args: argparse.Namespace) -> int:
    """One service in the foreground, on the servers (and development key) of the `baton up` in
    --data-dir when the environment names none: a replica beside it."""
    try:
        settings = cli_settings(args.data_dir)
    except SettingsError as exc:
        print(f"baton service: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    env = {
        **os.environ,
        "BATON_NATS_URL": settings.nats_url,
        "BATON_DATABASE_URL": settings.database_url,
    }
    secret = dev_secret_path(args.data_dir)
    if not services_have_a_key(os.environ) and secret.exists():
        env["BATON_AUTH_SECRET_FILE"] = str(secret.resolve())
    # Replace this process: signals then reach the service directly.
    os.execve(sys.executable, [sys.executable, "-m", "services", args.name], env)


def run_status(args: argparse.Namespace) -> int:
    """Each service's version, schema version and load (the bridge's too, where the running Baton
    has one); exit 0 when all answer, 1 when some do not, 3 when none does (no Baton on that
    NATS, or no NATS)."""
    try:
        settings = cli_settings(args.data_dir)
    except SettingsError as exc:
        print(f"baton status: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    where = redacted(settings.nats_url)

    async def ask() -> dict[ServiceName, dict[str, Any]]:
        # The status subjects need no token, but a deployment's NATS still wants its user:
        # `connected` logs in as the settings say, like every other command.
        async with connected(settings) as client:
            status = client.with_timeout(2.0)

            async def one(name: ServiceName) -> dict[str, Any]:
                try:
                    reply = await status.call(api.STATUS[name], StatusRequest())
                except BatonError as exc:
                    return {"error": str(exc.code)}
                except (TimeoutError, nats.errors.Error):
                    return {"error": "no answer"}
                answer: dict[str, Any] = msgspec.to_builtins(reply)
                return answer

            # Side by side: a Baton still starting is waited for once, not once per service.
            # The bridge where the running Baton has one, whatever this environment says.
            names = await running_services(client.nc, args.data_dir, settings.nats_url)
            answers = await asyncio.gather(*(one(name) for name in names))
            return dict(zip(names, answers, strict=True))

    try:
        answers = asyncio.run(ask())
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        print(f"baton status: cannot reach NATS at {where}: {exc}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    missing = [name for name, answer in answers.items() if "error" in answer]
    if args.json:
        print(json.dumps(answers, indent=2))
    else:
        for name, answer in answers.items():
            print(f"{name:<9} {_status_line(answer)}")
    if len(missing) == len(answers):
        print(f"baton status: no Baton service answers on {where}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    if missing:
        print(f"baton status: no answer from {', '.join(missing)} on {where}", file=sys.stderr)
        return exit_codes.FAILED
    return exit_codes.OK


def _status_line(answer: dict[str, Any]) -> str:
    if "error" in answer:
        return str(answer["error"])
    return (
        f"up       version {answer['version']}, schema {answer['schema_version']}, "
        f"up {answer['uptime_seconds']:.0f} s, {answer['in_flight']} in flight"
    )
