"""The assigner service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.assigner.admin import Admin
from services.assigner.contacts import ContactImport
from services.assigner.numbers import SendingNumbers
from services.assigner.pool_floor import PoolFloorKeeper
from services.assigner.reads import Reads
from services.assigner.reassign import Reassignment
from services.assigner.self_assign import SelfAssign
from shared.access import OPERATOR_ONLY, Access, member
from shared.endpoints import Endpoint
from shared.schemas import admin, assign, query
from shared.service import ServiceContext, ServiceDefinition
from shared.settings import AssignerSettings
from shared.texting_hours import utc_now


def endpoints(
    context: ServiceContext, clock: Callable[[], datetime] = utc_now
) -> list[Endpoint[Any]]:
    """`clock`: what "now" is for texting hours (tests inject one)."""
    pool = context.pool
    settings = context.settings
    if not isinstance(settings, AssignerSettings):
        settings = AssignerSettings()
    region = settings.default_region
    administration = Admin(pool, region)
    numbers = SendingNumbers(pool, region)
    contacts = ContactImport(pool, region)
    reads = Reads(pool, clock)
    floors = PoolFloorKeeper(pool, settings.pool_floor_interval_seconds)
    if settings.pool_floor_interval_seconds > 0:
        context.background.append(floors.run)
    self_assign = SelfAssign(pool, context.outbox, floors, clock)
    reassignment = Reassignment(pool, context.outbox)
    # Who may call each subject is declared here, beside its handler (shared/access.py).
    return [
        Endpoint("baton.admin.org.create", admin.CreateOrg, administration.create_org,
                 OPERATOR_ONLY),
        Endpoint("baton.admin.org.update", admin.UpdateOrg, administration.update_org,
                 member("admin")),
        Endpoint("baton.admin.org.numbers.add", admin.OrgNumbers, numbers.add,
                 member("admin", "a number another organization holds is refused")),
        Endpoint("baton.admin.org.numbers.remove", admin.OrgNumbers, numbers.remove,
                 member("admin", "refused while a campaign sends from it")),
        Endpoint("baton.query.org.numbers", admin.ListOrgNumbers, numbers.list,
                 member("moderator")),
        Endpoint("baton.admin.user.create", admin.CreateUser, administration.create_user,
                 member("admin", "the operator only an organization's first user (made owner); "
                        "owners and admins need the owner role", operator=True)),
        Endpoint("baton.admin.team.create", admin.CreateTeam, administration.create_team,
                 member("admin")),
        Endpoint("baton.admin.team.add_members", admin.AddTeamMembers,
                 administration.add_team_members, member("admin")),
        Endpoint("baton.admin.campaign.create", admin.CreateCampaign,
                 administration.create_campaign, member("admin")),
        Endpoint("baton.admin.campaign.update", admin.UpdateCampaign,
                 administration.update_campaign,
                 member("moderator", "changing `status` needs admin")),
        Endpoint("baton.admin.campaign.texters.add", admin.CampaignTexters,
                 administration.add_texters, member("moderator")),
        Endpoint("baton.admin.campaign.texters.remove", admin.CampaignTexters,
                 administration.remove_texters, member("moderator")),
        Endpoint("baton.admin.campaign.invite", admin.CreateInvite, administration.create_invite,
                 member("moderator")),
        Endpoint("baton.admin.campaign.invite.revoke", admin.RevokeInvite,
                 administration.revoke_invite, member("moderator")),
        Endpoint("baton.admin.contacts.import", admin.ImportContacts, contacts.import_contacts,
                 member("moderator")),
        Endpoint("baton.query.campaign.stats", query.CampaignStatsRequest, reads.campaign_stats,
                 member("moderator")),
        Endpoint("baton.query.conversations", query.ListConversations, reads.conversations,
                 member("texter", "a texter sees only their own conversations, in campaigns "
                        "they text on")),
        Endpoint("baton.assign.request", assign.RequestBatch, self_assign.request,
                 member("texter", "for the caller, a texter on the campaign")),
        Endpoint("baton.assign.join", assign.Join, self_assign.join,
                 Access(role="texter", any_user=True, rule="with a valid invite token; enrolls "
                        "the caller as a texter")),
        Endpoint("baton.assign.reassign", assign.Reassign, reassignment.reassign,
                 member("moderator", "Unassign All across every sender needs admin")),
        Endpoint("baton.assign.move", assign.Move, reassignment.move, member("moderator")),
        Endpoint("baton.assign.release", assign.Release, reassignment.release,
                 member("texter", "the caller's own replies only")),
    ]  # fmt: skip


DEFINITION = ServiceDefinition(name="assigner", endpoints=endpoints)
