"""`baton migrate`, `baton service NAME`, `baton status`: operating a running Baton."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg
import msgspec

from shared import catalogue as api
from shared.catalogue import SERVICE_NAMES
from shared.cli import exit_codes
from shared.cli.client import connected
from shared.cli.credentials import DEFAULT_DATA_DIR
from shared.cli.running_up import beside_up
from shared.errors import BatonError
from shared.migrations import migrate_database
from shared.schemas.system import StatusRequest
from shared.settings import CommonSettings, SettingsError, load_settings


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    migrate_parser = commands.add_parser(
        "migrate", help="apply pending database migrations (safe to run from many places at once)"
    )
    migrate_parser.set_defaults(run=run_migrate)

    service = commands.add_parser("service", help="run one service in the foreground")
    service.add_argument("name", choices=SERVICE_NAMES)
    service.set_defaults(run=run_service)

    status = commands.add_parser("status", help="ask every running service how it is")
    status.add_argument("--json", action="store_true", help="print JSON for scripts")
    status.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                        help="the `baton up` to ask, when BATON_NATS_URL names none")  # fmt: skip
    status.set_defaults(run=run_status)


def _settings() -> CommonSettings:
    return load_settings(CommonSettings)


def run_migrate(args: argparse.Namespace) -> int:
    try:
        settings = _settings()
    except SettingsError as exc:
        print(f"baton migrate: {exc}", file=sys.stderr)
        return exit_codes.USAGE

    try:
        applied = asyncio.run(migrate_database(settings.database_url))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"baton migrate: {exc}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    print("applied: " + (", ".join(applied) if applied else "nothing; the schema is current"))
    return exit_codes.OK


def run_service(args: argparse.Namespace) -> int:
    # Replace this process: signals then reach the service directly.
    os.execv(sys.executable, [sys.executable, "-m", "services", args.name])


def run_status(args: argparse.Namespace) -> int:
    try:
        settings = beside_up(_settings(), args.data_dir)
    except SettingsError as exc:
        print(f"baton status: {exc}", file=sys.stderr)
        return exit_codes.USAGE

    async def ask() -> dict[str, object]:
        # The status subjects need no token, but a deployment's NATS still wants its user:
        # `connected` logs in as the settings say, like every other command.
        async with connected(settings) as client:
            status = client.with_timeout(2.0)
            answers: dict[str, object] = {}
            for name in SERVICE_NAMES:
                try:
                    reply = await status.call(api.STATUS[name], StatusRequest())
                    answers[name] = msgspec.to_builtins(reply)
                except BatonError as exc:
                    answers[name] = {"error": exc.code}
                except Exception:
                    answers[name] = {"error": "no answer"}
            return answers

    try:
        answers = asyncio.run(ask())
    except Exception as exc:
        print(f"baton status: cannot reach NATS at {settings.nats_url}: {exc}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    if args.json:
        print(json.dumps(answers, indent=2))
    else:
        for name, answer in answers.items():
            print(f"{name:<9} {answer}")
    up = all(isinstance(a, dict) and "error" not in a for a in answers.values())
    return exit_codes.OK if up else exit_codes.FAILED
