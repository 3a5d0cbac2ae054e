"""`baton token --user N | --operator [--ttl 1h]`: print a bearer token minted with the local key.

For scripts and other people's tools: `export BATON_TOKEN=$(baton token --user 7 --ttl 8h)`, then
any `baton` administration command (or any NATS client sending `Authorization: Bearer $TOKEN`)
acts as user 7 until the token runs out. Only the token goes to stdout.
"""

from __future__ import annotations

import argparse
import sys

from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import OPERATOR, add_data_dir, duration, local_signer
from shared.runtime.commands.running_up import cli_settings
from shared.runtime.settings import SettingsError
from shared.runtime.tokens import KeyConfigError


def _user_id(value: str) -> int:
    try:
        user = int(value)
    except ValueError:
        user = 0
    if user < 1:
        raise argparse.ArgumentTypeError("a user id, 1 or more")
    return user


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "token",
        help="print a bearer token for a user, or the operator, signed with the local key",
        description="Mint a token with BATON_AUTH_SIGNING_KEY_FILE / BATON_AUTH_SECRET(_FILE), "
        "or else the development secret `baton up` wrote under --data-dir.",
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", type=_user_id, help="the Baton user id the token speaks for")
    who.add_argument(
        "--operator",
        action="store_true",
        help="the deployment's operator: may create organizations and their first owners only",
    )
    parser.add_argument(
        "--ttl",
        type=duration,
        default=3600.0,
        metavar="DURATION",
        help="how long it is valid: 90s, 30m, 1h (default); at most BATON_AUTH_MAX_TOKEN_SECONDS",
    )
    add_data_dir(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = cli_settings(args.data_dir)
        signer = local_signer(settings, args.data_dir)
    except (SettingsError, KeyConfigError) as exc:
        print(f"baton token: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    if args.ttl > settings.auth_max_token_seconds:
        # The services would refuse it: say so now rather than hand out a token that never works.
        print(
            f"baton token: --ttl is at most BATON_AUTH_MAX_TOKEN_SECONDS "
            f"({settings.auth_max_token_seconds} s)",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    if args.operator:
        print(signer.mint(OPERATOR, ttl_seconds=args.ttl, operator=True))
    else:
        print(signer.mint(args.user, ttl_seconds=args.ttl))
    return exit_codes.OK
