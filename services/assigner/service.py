"""The assigner service's definition: what it serves and which workers it runs."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from services.assigner.admin import Admin
from services.assigner.contacts import ContactImport
from services.assigner.exports import Exports
from services.assigner.membership import Membership
from services.assigner.numbers import SendingNumbers
from services.assigner.org_reads import OrgReads
from services.assigner.phone_checks import PhoneChecks
from services.assigner.pool_floor import PoolFloorKeeper
from services.assigner.reads import Reads
from services.assigner.reassign import Reassignment
from services.assigner.self_assign import SelfAssign
from services.assigner.settings import AssignerSettings
from shared.contract import catalogue as api
from shared.domain.clock import Clock, utc_now
from shared.runtime.endpoints import Endpoint, bound
from shared.runtime.service import ServiceContext, ServiceDefinition, Worker


@dataclass(frozen=True)
class _Loops:
    """The assigner's two objects that run a loop beside its endpoints: the endpoints hand them
    work (an import's phone checks; a pool floor to keep), and their loops are its workers."""

    phone_checks: PhoneChecks
    floors: PoolFloorKeeper


# One pair per running service, shared by its endpoints and its workers; gone with the service.
_LOOPS: weakref.WeakKeyDictionary[ServiceContext[AssignerSettings], _Loops] = (
    weakref.WeakKeyDictionary()
)


def _loops(context: ServiceContext[AssignerSettings]) -> _Loops:
    found = _LOOPS.get(context)
    if found is None:
        settings = context.settings
        found = _Loops(
            PhoneChecks(settings.default_region, settings.import_check_processes),
            PoolFloorKeeper(context.pool, settings.pool_floor_interval_seconds),
        )
        _LOOPS[context] = found
    return found


def workers(context: ServiceContext[AssignerSettings]) -> list[Worker]:
    loops = _loops(context)
    keeps_floors = context.settings.pool_floor_interval_seconds > 0
    return [loops.phone_checks.run, *([loops.floors.run] if keeps_floors else [])]


def endpoints(
    context: ServiceContext[AssignerSettings], clock: Clock = utc_now
) -> list[Endpoint[Any]]:
    """`clock`: what "now" is for texting hours (tests inject one)."""
    pool = context.pool
    settings = context.settings
    region = settings.default_region
    administration = Admin(pool, region)
    numbers = SendingNumbers(pool, region)
    loops = _loops(context)
    contacts = ContactImport(pool, loops.phone_checks)
    reads = Reads(pool, clock)
    self_assign = SelfAssign(pool, context.outbox, loops.floors, clock)
    reassignment = Reassignment(pool, context.outbox)
    membership = Membership(pool, context.outbox)
    org_reads = OrgReads(pool)
    exports = Exports(
        pool,
        context.js,
        context.outbox,
        settings.export_ttl_hours,
        settings.export_max_bytes,
        settings.stream_replicas,
    )
    # Who may call each subject is declared with it, in the catalogue.
    return [
        bound(api.ORG_CREATE, administration.create_org),
        bound(api.ORG_UPDATE, administration.update_org),
        bound(api.ORG_READ, administration.read_org),
        bound(api.ORG_NUMBERS_ADD, numbers.add),
        bound(api.ORG_NUMBERS_REMOVE, numbers.remove),
        bound(api.ORG_NUMBERS, numbers.list),
        bound(api.USER_CREATE, administration.create_user),
        bound(api.ORG_MEMBERS_REMOVE, membership.remove_member),
        bound(api.ORG_MEMBERS_UPDATE, membership.update_member),
        bound(api.ORG_MEMBERS, membership.list_members),
        bound(api.TEAM_CREATE, administration.create_team),
        bound(api.TEAM_ADD_MEMBERS, administration.add_team_members),
        bound(api.CAMPAIGN_CREATE, administration.create_campaign),
        bound(api.CAMPAIGN_UPDATE, administration.update_campaign),
        bound(api.CAMPAIGN_READ, administration.read_campaign),
        bound(api.CAMPAIGN_TEXTERS_ADD, administration.add_texters),
        bound(api.CAMPAIGN_TEXTERS_REMOVE, membership.remove_texters),
        bound(api.CAMPAIGN_INVITE, administration.create_invite),
        bound(api.CAMPAIGN_INVITE_REVOKE, administration.revoke_invite),
        bound(api.CONTACTS_IMPORT, contacts.import_contacts),
        bound(api.CAMPAIGN_STATS, reads.campaign_stats),
        bound(api.CONVERSATIONS, reads.conversations),
        bound(api.ASSIGN_REQUEST, self_assign.request),
        bound(api.ASSIGN_JOIN, self_assign.join),
        bound(api.REASSIGN, reassignment.reassign),
        bound(api.MOVE, reassignment.move),
        bound(api.RELEASE, reassignment.release),
        # Issue #33: assignment requests.
        bound(api.ASSIGNMENT_REQUESTS, self_assign.approvals.list_requests),
        bound(api.ASSIGNMENT_REQUESTS_RESOLVE, self_assign.approvals.resolve),
        bound(api.ORG_CAMPAIGNS, org_reads.campaigns),
        bound(api.ORG_TEAMS, org_reads.teams),
        bound(api.CAMPAIGN_INVITES, org_reads.invites),
        bound(api.CAMPAIGN_EXPORT, exports.start),
        bound(api.CAMPAIGN_EXPORT_READ, exports.read),
        bound(api.CAMPAIGN_EXPORT_PART, exports.part),
        bound(api.TEAM_UPDATE, administration.update_team),
    ]


DEFINITION = ServiceDefinition(
    name="assigner", settings_type=AssignerSettings, endpoints=endpoints, workers=workers
)
