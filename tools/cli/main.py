"""`baton`: start, operate and administer Baton from a shell."""

from __future__ import annotations

import argparse
import sys

from shared.runtime.commands import exit_codes, token_command
from shared.runtime.version import baton_version
from tools.cli import admin, admin_commands, contacts_import, export_command, simulate, up


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton",
        description="Baton: conversation assignment for peer-to-peer texting.",
        epilog="Settings come from BATON_* environment variables (see README). Administration "
        "commands act as `--as USER` (a token minted with the local key) or $BATON_TOKEN.",
    )
    parser.add_argument("--version", action="version", version=f"baton {baton_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up.add_parser(commands)
    admin.add_parsers(commands)
    admin_commands.add_parsers(commands)
    contacts_import.add_parser(commands)
    export_command.add_parser(commands)
    simulate.add_parsers(commands)
    token_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and exit_codes.USAGE
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
