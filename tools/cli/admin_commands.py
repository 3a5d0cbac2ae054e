"""`baton org|user|team|campaign|stats|reassign|move|release ...`: campaign administration over
the NATS subjects.

Every command sends one request on the subject of the same name (docs/api.md) and prints the
reply: readable lines, or the reply's data with --json. The request comes from whoever `--as USER`
names (a token minted with the local key) or else `BATON_TOKEN`; the services decide from that
token alone what the caller may do, so no command names its caller in the payload.
"""

from __future__ import annotations

import argparse
from typing import Any

from shared.contract import catalogue as api
from shared.runtime.client import BatonClient
from shared.runtime.commands.credentials import add_caller_options
from tools.cli import approval_commands, org_read_commands
from tools.cli.client import OMIT, SubParsers, run_command


def _size(value: str) -> int | None:
    """A batch size, or `default` for the organization's (or product's) default."""
    return None if value == "default" else int(value)


def _team_ids(value: str) -> list[int]:
    return [] if value == "none" else [int(t) for t in value.split(",")]


def _size_or_none(value: str) -> int | None:
    return None if value == "none" else int(value)


def _switch(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("on or off")
    return value == "on"


def _minutes(value: str) -> int | None:
    return None if value == "off" else int(value)


def _number(value: str) -> str | None:
    return None if value == "none" else value


def _texter_or_unassigned(value: str) -> int | None:
    """A texter's user id, or `none` for Unassigned."""
    if value.lower() == "none":
        return None
    if not value.isdigit():
        raise argparse.ArgumentTypeError("a texter's user id, or none for Unassigned")
    return int(value)


def _hours(value: str) -> dict[str, int]:
    start, _, end = value.partition("-")
    try:
        return {"start": int(start), "end": int(end)}
    except ValueError:
        raise argparse.ArgumentTypeError("hours as START-END, e.g. 9-21") from None


def _given(value: Any) -> Any:
    return OMIT if value is None else value


def add_parsers(commands: SubParsers) -> None:
    org = commands.add_parser("org", help="organizations").add_subparsers(
        dest="action", required=True
    )
    p = org.add_parser("create", help="create an organization (the operator: --as operator)")
    p.add_argument("name")
    p.add_argument("--batch-size", type=int, help="self-assign default for new campaigns (1-5000)")
    p.set_defaults(
        route=api.ORG_CREATE,
        build=lambda a: {"name": a.name, "default_batch_size": _given(a.batch_size)},
    )
    p = org.add_parser(
        "update",
        help="set the default batch size for new campaigns, or the opt-out confirmation text",
    )
    p.add_argument("org_id", type=int)
    p.add_argument("--batch-size", type=_size, default=OMIT, help="1-5000, or `default` (300)")
    p.add_argument(
        "--opt-out-confirmation",
        default=OMIT,
        metavar="TEXT",
        help="the one text a contact gets after STOP (name the program; up to 320 characters)",
    )
    p.set_defaults(
        route=api.ORG_UPDATE,
        build=lambda a: {
            "org_id": a.org_id,
            "default_batch_size": a.batch_size,
            "opt_out_confirmation": a.opt_out_confirmation,
        },
    )
    for action, verb in (("add", "register"), ("remove", "give up")):
        p = org.add_parser(
            f"numbers-{action}", help=f"{verb} sending numbers (E.164, or a short code)"
        )
        p.add_argument("org_id", type=int)
        p.add_argument("numbers", nargs="+")
        p.set_defaults(
            route=api.ORG_NUMBERS_ADD if action == "add" else api.ORG_NUMBERS_REMOVE,
            build=lambda a: {"org_id": a.org_id, "numbers": a.numbers},
        )
    p = org.add_parser("show", help="an organization's settings")
    p.add_argument("org_id", type=int)
    p.set_defaults(route=api.ORG_READ, build=lambda a: {"org_id": a.org_id})
    p = org.add_parser("numbers", help="the organization's sending numbers")
    p.add_argument("org_id", type=int)
    p.set_defaults(route=api.ORG_NUMBERS, build=lambda a: {"org_id": a.org_id})

    user = commands.add_parser("user", help="people").add_subparsers(dest="action", required=True)
    p = user.add_parser(
        "create",
        help="create a user in an organization (its first user, an owner: --as operator)",
    )
    p.add_argument("--org", type=int, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--role", choices=["owner", "admin", "moderator", "texter"], required=True)
    p.set_defaults(
        route=api.USER_CREATE,
        build=lambda a: {"org_id": a.org, "name": a.name, "role": a.role},
    )
    p = user.add_parser("role", help="change a member's role (owners and admins: an owner)")
    p.add_argument("user_id", type=int)
    p.add_argument("--org", type=int, required=True)
    p.add_argument("--role", choices=["owner", "admin", "moderator", "texter"], required=True)
    p.set_defaults(
        route=api.ORG_MEMBERS_UPDATE,
        build=lambda a: {"org_id": a.org, "user_id": a.user_id, "role": a.role},
    )
    p = user.add_parser(
        "remove", help="take a member out of an organization; what they hold goes to Unassigned"
    )
    p.add_argument("user_id", type=int)
    p.add_argument("--org", type=int, required=True)
    p.set_defaults(
        route=api.ORG_MEMBERS_REMOVE, build=lambda a: {"org_id": a.org, "user_id": a.user_id}
    )
    p = user.add_parser("list", help="an organization's members and their roles")
    p.add_argument("--org", type=int, required=True)
    p.set_defaults(route=api.ORG_MEMBERS, build=lambda a: {"org_id": a.org})

    team = commands.add_parser("team", help="teams").add_subparsers(dest="action", required=True)
    p = team.add_parser("create", help="create a team")
    p.add_argument("--org", type=int, required=True)
    p.add_argument("--name", required=True)
    p.set_defaults(
        route=api.TEAM_CREATE,
        build=lambda a: {"org_id": a.org, "name": a.name},
    )
    p = team.add_parser("update", help="what the team's campaigns hand its texters")
    p.add_argument("team_id", type=int)
    p.add_argument("--priority", type=int, default=OMIT, help="higher first")
    p.add_argument("--kind", choices=["initials", "replies", "both"], default=OMIT)
    p.add_argument(
        "--max-size",
        type=_size_or_none,
        metavar="N|none",
        default=OMIT,
        help="the largest batch (the campaign's if smaller), or none",
    )
    p.set_defaults(
        route=api.TEAM_UPDATE,
        build=lambda a: {
            "team_id": a.team_id,
            "assignment_priority": a.priority,
            "assignment_kind": a.kind,
            "max_request_size": a.max_size,
        },
    )
    p = team.add_parser("add-members", help="add users to a team")
    p.add_argument("team_id", type=int)
    p.add_argument("user_ids", type=int, nargs="+")
    p.set_defaults(
        route=api.TEAM_ADD_MEMBERS,
        build=lambda a: {"team_id": a.team_id, "user_ids": a.user_ids},
    )

    campaign = commands.add_parser("campaign", help="campaigns").add_subparsers(
        dest="action", required=True
    )
    p = campaign.add_parser("create", help="create a campaign (in draft)")
    p.add_argument("--org", type=int, required=True)
    p.add_argument("--title", required=True)
    p.add_argument(
        "--team",
        type=int,
        action="append",
        dest="teams",
        metavar="TEAM",
        help="limit it to this team (repeat for several)",
    )
    p.add_argument("--hours", type=_hours, help="texting hours in the contact's time, e.g. 9-21")
    p.add_argument("--sending-number", help="one of the organization's numbers")
    p.set_defaults(
        route=api.CAMPAIGN_CREATE,
        build=lambda a: {
            "org_id": a.org,
            "title": a.title,
            "team_ids": _given(a.teams),
            "texting_hours": _given(a.hours),
            "sending_number": _given(a.sending_number),
        },
    )
    p = campaign.add_parser("update", help="change a campaign's status or assignment settings")
    p.add_argument("campaign_id", type=int)
    # Options left out are not sent (OMIT); `default` and `off` are sent as null on purpose.
    p.add_argument("--status", choices=["draft", "active", "archived"], default=OMIT)
    p.add_argument("--self-assign", type=_switch, metavar="on|off", default=OMIT)
    p.add_argument("--batch-size", type=_size, metavar="N|default", default=OMIT)
    p.add_argument("--replies-batch-size", type=int, default=OMIT)
    p.add_argument("--require-replies-handled", type=_switch, metavar="on|off", default=OMIT)
    p.add_argument(
        "--release-after",
        type=_minutes,
        metavar="MINUTES|off",
        default=OMIT,
        help="Release Unhandled Replies after this many minutes",
    )
    p.add_argument("--hours", type=_hours, default=OMIT)
    p.add_argument(
        "--sending-number",
        type=_number,
        metavar="NUMBER|none",
        default=OMIT,
        help="one of the organization's numbers, or none",
    )
    p.add_argument(
        "--closing-margin",
        type=int,
        metavar="MINUTES",
        default=OMIT,
        help="stop handing out a contact this long before their texting hours close",
    )
    p.add_argument(
        "--fallback-zone",
        type=_number,
        metavar="ZONE|none",
        default=OMIT,
        help="the IANA zone whose hours apply to numbers spanning several zones",
    )
    p.add_argument(
        "--teams",
        type=_team_ids,
        metavar="TEAM,TEAM|none",
        default=OMIT,
        help="limit it to these teams exactly, or none",
    )
    p.set_defaults(route=api.CAMPAIGN_UPDATE, build=_campaign_update)
    for action, route in (
        ("add", api.CAMPAIGN_TEXTERS_ADD),
        ("remove", api.CAMPAIGN_TEXTERS_REMOVE),
    ):
        p = campaign.add_parser(f"texters-{action}", help=f"{action} texters")
        p.add_argument("campaign_id", type=int)
        p.add_argument("user_ids", type=int, nargs="+")
        p.set_defaults(
            route=route,
            build=lambda a: {"campaign_id": a.campaign_id, "user_ids": a.user_ids},
        )
    p = campaign.add_parser("show", help="a campaign's settings")
    p.add_argument("campaign_id", type=int)
    p.set_defaults(route=api.CAMPAIGN_READ, build=lambda a: {"campaign_id": a.campaign_id})
    p = campaign.add_parser("invite", help="an invite link token for texters to join")
    p.add_argument("campaign_id", type=int)
    p.add_argument("--kind", choices=["initials", "replies"], default="initials")
    p.set_defaults(
        route=api.CAMPAIGN_INVITE,
        build=lambda a: {"campaign_id": a.campaign_id, "kind": a.kind},
    )
    p = campaign.add_parser("revoke", help="revoke an invite link")
    p.add_argument("token")
    p.set_defaults(
        route=api.CAMPAIGN_INVITE_REVOKE,
        build=lambda a: {"token": a.token},
    )

    p = commands.add_parser("stats", help="a campaign's conversations by status and assignee")
    p.add_argument("campaign_id", type=int)
    p.set_defaults(route=api.CAMPAIGN_STATS, build=lambda a: {"campaign_id": a.campaign_id})

    _add_moves(commands)
    approval_commands.add_parsers(commands, user)
    org_read_commands.add_parsers(org, team, campaign)

    for parser in _leaves(commands):
        parser.add_argument("--json", action="store_true", help="print the reply's data as JSON")
        add_caller_options(parser)
        parser.set_defaults(run=_run)


def _add_moves(commands: SubParsers) -> None:
    """Reassignment and releases, as the seed pages' admin screens offer them."""
    p = commands.add_parser(
        "reassign",
        help="Reassign Some/All or Unassign All (--to nobody), at campaign or sender level",
    )
    p.add_argument("campaign_id", type=int)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--from-texter", type=int, help="one sender's conversations only")
    source.add_argument("--from-unassigned", action="store_true", help="the Unassigned ones")
    p.add_argument("--status", choices=["any", "needs_reply", "not_started"], default="any")
    p.add_argument(
        "--to",
        type=int,
        nargs="*",
        default=[],
        metavar="TEXTER",
        help="spread over these texters; without: Unassign (--confirm)",
    )
    p.add_argument("--count", type=int, default=OMIT, help="Reassign Some: this many")
    p.add_argument("--confirm", action="store_true", help="confirm an Unassign All")
    p.set_defaults(
        route=api.REASSIGN,
        build=lambda a: {
            "campaign_id": a.campaign_id,
            "status": a.status,
            "to_texter_ids": a.to,
            "from_texter_id": _given(a.from_texter),
            "from_unassigned": a.from_unassigned,
            "count": a.count,
            "confirm": a.confirm,
        },
    )
    p = commands.add_parser("move", help="one conversation to a texter, or to Unassigned")
    p.add_argument("conversation_id", type=int)
    p.add_argument("--to", type=_texter_or_unassigned, required=True, metavar="TEXTER|none")
    p.set_defaults(
        route=api.MOVE, build=lambda a: {"conversation_id": a.conversation_id, "to_texter_id": a.to}
    )
    release = commands.add_parser("release", help="give held conversations back to the pool")
    kinds = release.add_subparsers(dest="kind", required=True)
    p = kinds.add_parser("unhandled", help="every assigned reply of the campaign, now")
    p.add_argument("campaign_id", type=int)
    p.set_defaults(route=api.RELEASE_UNHANDLED, build=lambda a: {"campaign_id": a.campaign_id})
    p = kinds.add_parser("stale-initials", help="initials held unsent longer than --hours")
    p.add_argument("campaign_id", type=int)
    p.add_argument("--hours", type=int, required=True)
    p.set_defaults(
        route=api.RELEASE_STALE_INITIALS,
        build=lambda a: {"campaign_id": a.campaign_id, "held_longer_than_hours": a.hours},
    )


def _campaign_update(a: argparse.Namespace) -> dict[str, Any]:
    return {
        "campaign_id": a.campaign_id,
        "status": a.status,
        "self_assign": a.self_assign,
        "batch_size": a.batch_size,
        "replies_batch_size": a.replies_batch_size,
        "require_replies_handled": a.require_replies_handled,
        "release_unhandled_after_minutes": a.release_after,
        "texting_hours": a.hours,
        "sending_number": a.sending_number,
        "closing_margin_minutes": a.closing_margin,
        "fallback_zone": a.fallback_zone,
        "team_ids": a.teams,
    }


def _leaves(commands: SubParsers) -> list[argparse.ArgumentParser]:
    leaves = []
    for parser in dict.fromkeys(commands.choices.values()):
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            leaves += list(dict.fromkeys(nested[0].choices.values()))
        elif parser.get_default("route"):
            leaves.append(parser)
    return leaves


def _run(args: argparse.Namespace) -> int:
    # Options left out are not sent at all, so the service keeps what is stored.
    request = {key: value for key, value in args.build(args).items() if value is not OMIT}

    async def send(client: BatonClient) -> Any:
        return await client.call_json(args.route, request)

    return run_command(args.command, args, send)
