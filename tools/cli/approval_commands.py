"""`baton requests list|resolve` and `baton user level`: assignment requests that wait for
approval (issue #33). Each sends one request on its subject; tools/cli/admin_commands.py adds
the output and caller options every administration command has."""

from __future__ import annotations

from typing import get_args

from shared.contract import catalogue as api
from shared.contract.schemas.approvals import RequestLevel, RequestStatus
from tools.cli.client import OMIT, SubParsers

LEVELS = list(get_args(RequestLevel))


def add_parsers(commands: SubParsers, user: SubParsers) -> None:
    p = user.add_parser(
        "level",
        help="what a member's Request Conversations does: "
        "auto_approve, approval_required or do_not_approve",
    )
    p.add_argument("user_id", type=int)
    p.add_argument("--org", type=int, required=True)
    p.add_argument("--level", choices=LEVELS, required=True)
    p.set_defaults(
        route=api.ORG_MEMBERS_UPDATE,
        build=lambda a: {"org_id": a.org, "user_id": a.user_id, "request_level": a.level},
    )

    requests = commands.add_parser(
        "requests", help="assignment requests waiting for approval"
    ).add_subparsers(dest="action", required=True)
    p = requests.add_parser("list", help="an organization's requests (a texter: their own)")
    p.add_argument("--org", type=int, required=True)
    p.add_argument(
        "--status",
        choices=list(get_args(RequestStatus)),
        default=OMIT,
        help="only these (pending: the ones waiting)",
    )
    p.add_argument("--texter", type=int, default=OMIT)
    p.add_argument("--after", type=int, default=OMIT, help="the page after this request id")
    p.add_argument("--limit", type=int, default=OMIT)
    p.set_defaults(
        route=api.ASSIGNMENT_REQUESTS,
        build=lambda a: {
            "org_id": a.org,
            "status": a.status,
            "texter_id": a.texter,
            "after_id": a.after,
            "limit": a.limit,
        },
    )
    p = requests.add_parser("resolve", help="approve (the batch is claimed now) or reject")
    p.add_argument("request_id", type=int)
    decision = p.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", dest="approve", action="store_true")
    decision.add_argument("--reject", dest="approve", action="store_false")
    p.add_argument(
        "--level", choices=LEVELS, default=OMIT, help="also set the texter's request level"
    )
    p.set_defaults(
        route=api.ASSIGNMENT_REQUESTS_RESOLVE,
        build=lambda a: {
            "request_id": a.request_id,
            "approve": a.approve,
            "request_level": a.level,
        },
    )
