"""The assigner service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from typing import Any

from services.assigner.admin import Admin
from services.assigner.contacts import ContactImport
from services.assigner.pool_floor import PoolFloorKeeper
from services.assigner.reads import Reads
from services.assigner.reassign import Reassignment
from services.assigner.self_assign import SelfAssign
from shared.endpoints import Endpoint
from shared.schemas import admin, assign, query
from shared.service import ServiceContext, ServiceDefinition
from shared.settings import AssignerSettings


def endpoints(context: ServiceContext) -> list[Endpoint[Any]]:
    pool = context.pool
    settings = context.settings
    if not isinstance(settings, AssignerSettings):
        settings = AssignerSettings()
    region = settings.default_region
    administration = Admin(pool)
    contacts = ContactImport(pool, region)
    reads = Reads(pool)
    floors = PoolFloorKeeper(pool, settings.pool_floor_interval_seconds)
    if settings.pool_floor_interval_seconds > 0:
        context.background.append(floors.run)
    self_assign = SelfAssign(pool, context.outbox, floors)
    reassignment = Reassignment(pool, context.outbox)
    return [
        Endpoint("baton.admin.org.create", admin.CreateOrg, administration.create_org),
        Endpoint("baton.admin.org.update", admin.UpdateOrg, administration.update_org),
        Endpoint("baton.admin.user.create", admin.CreateUser, administration.create_user),
        Endpoint("baton.admin.team.create", admin.CreateTeam, administration.create_team),
        Endpoint(
            "baton.admin.team.add_members", admin.AddTeamMembers, administration.add_team_members
        ),
        Endpoint(
            "baton.admin.campaign.create", admin.CreateCampaign, administration.create_campaign
        ),
        Endpoint(
            "baton.admin.campaign.update", admin.UpdateCampaign, administration.update_campaign
        ),
        Endpoint(
            "baton.admin.campaign.texters.add", admin.CampaignTexters, administration.add_texters
        ),
        Endpoint(
            "baton.admin.campaign.texters.remove",
            admin.CampaignTexters,
            administration.remove_texters,
        ),
        Endpoint("baton.admin.campaign.invite", admin.CreateInvite, administration.create_invite),
        Endpoint(
            "baton.admin.campaign.invite.revoke", admin.RevokeInvite, administration.revoke_invite
        ),
        Endpoint("baton.admin.contacts.import", admin.ImportContacts, contacts.import_contacts),
        Endpoint("baton.query.campaign.stats", query.CampaignStatsRequest, reads.campaign_stats),
        Endpoint("baton.query.conversations", query.ListConversations, reads.conversations),
        Endpoint("baton.assign.request", assign.RequestBatch, self_assign.request),
        Endpoint("baton.assign.join", assign.Join, self_assign.join),
        Endpoint("baton.assign.reassign", assign.Reassign, reassignment.reassign),
        Endpoint("baton.assign.move", assign.Move, reassignment.move),
        Endpoint("baton.assign.release", assign.Release, reassignment.release),
    ]


DEFINITION = ServiceDefinition(name="assigner", endpoints=endpoints)
