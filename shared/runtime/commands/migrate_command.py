"""`migrate`: apply pending database migrations (the Compose service and the k8s Job run it)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg

from shared.domain.redaction import redacted
from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import add_data_dir
from shared.runtime.commands.running_up import cli_settings
from shared.runtime.migrations import migrate_database
from shared.runtime.settings import SettingsError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "migrate", help="apply pending database migrations (safe to run from many places at once)"
    )
    add_data_dir(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = cli_settings(args.data_dir)
    except SettingsError as exc:
        print(f"baton migrate: {exc}", file=sys.stderr)
        return exit_codes.USAGE

    try:
        applied = asyncio.run(migrate_database(settings.database_url))
    except (OSError, asyncpg.PostgresError) as exc:
        where = redacted(settings.database_url)
        print(f"baton migrate: cannot migrate the database at {where}: {exc}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    print("applied: " + (", ".join(applied) if applied else "nothing; the schema is current"))
    return exit_codes.OK
