"""`baton org campaigns`, `baton team list`, `baton campaign invites`: the reads an admin app
needs (issue #33). tools/cli/admin_commands.py adds the output and caller options."""

from __future__ import annotations

from shared.contract import catalogue as api
from tools.cli.client import OMIT, SubParsers


def add_parsers(org: SubParsers, team: SubParsers, campaign: SubParsers) -> None:
    p = org.add_parser("campaigns", help="an organization's campaigns, with counts")
    p.add_argument("org_id", type=int)
    p.add_argument("--status", choices=["draft", "active", "archived"], default=OMIT)
    p.add_argument("--after", type=int, default=OMIT, help="the page after this campaign id")
    p.add_argument("--limit", type=int, default=OMIT)
    p.set_defaults(
        route=api.ORG_CAMPAIGNS,
        build=lambda a: {
            "org_id": a.org_id,
            "status": a.status,
            "after_id": a.after,
            "limit": a.limit,
        },
    )
    p = team.add_parser("list", help="an organization's teams with their members")
    p.add_argument("--org", type=int, required=True)
    p.add_argument("--after", type=int, default=OMIT, help="the page after this team id")
    p.add_argument("--limit", type=int, default=OMIT)
    p.set_defaults(
        route=api.ORG_TEAMS,
        build=lambda a: {"org_id": a.org, "after_id": a.after, "limit": a.limit},
    )
    p = campaign.add_parser("invites", help="a campaign's invite links")
    p.add_argument("campaign_id", type=int)
    p.add_argument("--revoked", action="store_true", help="the revoked ones too")
    p.set_defaults(
        route=api.CAMPAIGN_INVITES,
        build=lambda a: {"campaign_id": a.campaign_id, "include_revoked": a.revoked},
    )
