"""The container image's entry point: one argument names what to run.

The image holds what it runs and no more: a service, `migrate` (the Compose service and the k8s
Job) and `token` (minting with the deployment's key). The rest of the `baton` command is a
development tool (tools/cli), which the image leaves out.
"""

from __future__ import annotations

import argparse
import sys

from shared.contract.catalogue import SERVICE_NAMES
from shared.runtime.commands import exit_codes, migrate_command, token_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton-entrypoint",
        description=f"Run one Baton service ({', '.join(SERVICE_NAMES)}), or a command the "
        "image runs.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    migrate_command.add_parser(commands)
    token_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """A service name runs that service in this process (PID 1's signals reach it); `migrate`
    and `token` run that command."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 1 and args[0] in SERVICE_NAMES:
        from services.registry import run  # the services' modules only when running one

        run(args[0])
        return 0
    try:
        command = build_parser().parse_args(args)
    except SystemExit as exc:
        return int(exc.code or 0) and exit_codes.USAGE
    code: int = command.run(command)
    return code


if __name__ == "__main__":
    sys.exit(main())
