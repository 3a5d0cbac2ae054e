"""Every NATS subject Baton serves or publishes, declared once.

A `Route` is a request/reply subject: its request and reply types, the service that serves it
(queue group of the same name), who may call it and the error codes it may answer. Services bind
their handlers to routes (`shared.runtime.endpoints.bound`, which mypy checks against the route's
types); the typed client (shared/runtime/client.py) takes a route and a request and returns the
route's reply type. A `Channel` is a JetStream subject: what it carries, its stream, who publishes
it.

docs/api.md, docs/asyncapi.yaml, the fuzz tests, the role matrix test and the CLI's
administration commands are derived from this module. No other module writes a subject name
(tests/unit/test_catalogue.py greps for one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from shared.contract.access_policy import OPERATOR_ONLY, PUBLIC, Access, member
from shared.contract.error_codes import TRANSPORT_CODES, ErrorCode
from shared.contract.schemas import admin, approvals, assign, exports, org_reads, query
from shared.contract.schemas import messaging as sms
from shared.contract.schemas import release as rel
from shared.contract.schemas.system import StatusReply, StatusRequest

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")
MessageT = TypeVar("MessageT")

ServiceName = Literal["assigner", "sender", "inbound", "reaper", "bridge"]
SERVICE_NAMES: tuple[ServiceName, ...] = ("assigner", "sender", "inbound", "reaper", "bridge")
# The bridge (issue #31) runs only where an SMS provider is configured (BATON_BRIDGE_PROVIDER);
# the other four always (shared/runtime/deployed.py says which run where).
CORE_SERVICE_NAMES: tuple[ServiceName, ...] = SERVICE_NAMES[:4]
# What publishes or consumes a JetStream subject: a service, or the SMS provider bridge.
Party = Literal["assigner", "sender", "inbound", "reaper", "bridge", "any service"]

E = ErrorCode


@dataclass(frozen=True)
class Route(Generic[RequestT, ReplyT]):
    """One request/reply subject."""

    subject: str
    request: type[RequestT]
    reply: type[ReplyT]
    service: ServiceName
    access: Access
    summary: str
    # What the handler may refuse with, beyond the request layer's codes (TRANSPORT_CODES) and,
    # for subjects that need a token, `forbidden` and `not_found`.
    refusals: tuple[ErrorCode, ...] = ()
    # Safe to send again after `unavailable` or a timeout: a repeat changes nothing more.
    idempotent: bool = False

    @property
    def errors(self) -> tuple[ErrorCode, ...]:
        """Every code this subject may answer."""
        access_codes = () if self.access.public else (E.FORBIDDEN, E.NOT_FOUND)
        return tuple(dict.fromkeys((*TRANSPORT_CODES, *access_codes, *self.refusals)))


@dataclass(frozen=True)
class Channel(Generic[MessageT]):
    """One JetStream subject (or family of subjects, one per message: `token` names the last
    subject token, the message's or event's id)."""

    subject: str
    message: type[MessageT]
    stream: str
    publisher: Party
    consumer: Party | None
    summary: str
    token: str | None = None

    @property
    def pattern(self) -> str:
        """The subject to subscribe or filter on: every message of the family."""
        return f"{self.subject}.*" if self.token else self.subject

    @property
    def address(self) -> str:
        return f"{self.subject}.{{{self.token}}}" if self.token else self.subject

    def at(self, token: str) -> str:
        """The subject of one message of the family; `token` must be one subject token."""
        assert self.token is not None, f"{self.subject} is a single subject"
        return f"{self.subject}.{token}"


# --- Roots of the JetStream streams' subjects (shared/runtime/jetstream.py builds the streams) ---
EVENTS_ROOT = "baton.events"
OUTBOUND_ROOT = "baton.outbound"
INBOUND_ROOT = "baton.inbound"
DEADLETTER_ROOT = "baton.deadletter"
# The JetStream Object Store bucket campaign exports are written to (issue #33); its stream is
# `OBJ_<bucket>`, its subjects `$O.<bucket>.>` (deploy/nats/nats-production.conf names them).
EXPORTS_BUCKET = "baton-exports"


# --- Health: answered by every service, no token needed ---
def status_route(service: str) -> Route[StatusRequest, StatusReply]:
    """`baton.status.<service>`; a name outside SERVICE_NAMES serves only in tests."""
    return Route(
        f"baton.status.{service}",
        StatusRequest,
        StatusReply,
        service,  # type: ignore[arg-type]
        PUBLIC,
        f"The {service}'s version, schema version, uptime and requests in flight.",
        idempotent=True,
    )


STATUS: dict[ServiceName, Route[StatusRequest, StatusReply]] = {
    name: status_route(name) for name in SERVICE_NAMES
}

# --- Administration (the assigner) ---
ORG_CREATE = Route(
    "baton.admin.org.create",
    admin.CreateOrg,
    admin.OrgCreated,
    "assigner",
    OPERATOR_ONLY,
    "Create an organization (the deployment's operator only).",
)
ORG_UPDATE = Route(
    "baton.admin.org.update",
    admin.UpdateOrg,
    admin.Org,
    "assigner",
    member("admin"),
    "Change an organization's settings (its opt-out confirmation's words).",
    idempotent=True,
)
ORG_NUMBERS_ADD = Route(
    "baton.admin.org.numbers.add",
    admin.AddOrgNumbers,
    admin.OrgNumbersView,
    "assigner",
    member("admin", "a number another organization holds is refused"),
    "Register sending numbers: replies to them route to this organization.",
    (E.CONFLICT,),
    idempotent=True,
)
ORG_NUMBERS_REMOVE = Route(
    "baton.admin.org.numbers.remove",
    admin.OrgNumbers,
    admin.OrgNumbersView,
    "assigner",
    member("admin", "refused while a campaign sends from it"),
    "Give sending numbers up.",
    (E.CONFLICT,),
    idempotent=True,
)
ORG_NUMBERS = Route(
    "baton.query.org.numbers",
    admin.ListOrgNumbers,
    admin.OrgNumbersView,
    "assigner",
    member("moderator"),
    "The organization's sending numbers.",
    idempotent=True,
)
ORG_READ = Route(
    "baton.query.org",
    query.ReadOrg,
    admin.Org,
    "assigner",
    member("moderator"),
    "Read an organization's settings.",
    idempotent=True,
)
USER_CREATE = Route(
    "baton.admin.user.create",
    admin.CreateUser,
    admin.UserCreated,
    "assigner",
    member(
        "admin",
        "the operator only an organization's first user (made owner); owners and "
        "admins need the owner role",
        operator=True,
    ),
    "Create a user in an organization with a role.",
)
ORG_MEMBERS_REMOVE = Route(
    "baton.admin.org.members.remove",
    admin.OrgMember,
    admin.MemberRemoved,
    "assigner",
    member("admin", "an owner or an admin only by an owner; never the last owner"),
    "Take someone out of an organization: off its campaigns and teams, and what they held "
    "back to Unassigned.",
    (E.NOT_A_MEMBER, E.CONFLICT),
)
ORG_MEMBERS_UPDATE = Route(
    "baton.admin.org.members.update",
    admin.UpdateOrgMember,
    admin.OrgMemberView,
    "assigner",
    member(
        "moderator",
        "a moderator may change only a texter's `request_level`; roles need admin, and making, "
        "demoting an owner or an admin needs owner; never the last owner",
    ),
    "Change a member's role, or their request level (what their Request Conversations does).",
    (E.NOT_A_MEMBER, E.CONFLICT),
    idempotent=True,
)
ORG_MEMBERS = Route(
    "baton.query.org.members",
    admin.ListOrgMembers,
    admin.OrgMembers,
    "assigner",
    member("moderator"),
    "The organization's members with their roles (or the one named by `user_id`).",
    idempotent=True,
)
TEAM_CREATE = Route(
    "baton.admin.team.create",
    admin.CreateTeam,
    admin.TeamCreated,
    "assigner",
    member("admin"),
    "Create a team of texters.",
    (E.CONFLICT,),
)
TEAM_ADD_MEMBERS = Route(
    "baton.admin.team.add_members",
    admin.AddTeamMembers,
    admin.TextersChanged,
    "assigner",
    member("admin"),
    "Add organization members to a team.",
    (E.NOT_A_MEMBER,),
    idempotent=True,
)
TEAM_UPDATE = Route(
    "baton.admin.team.update",
    admin.UpdateTeam,
    admin.Team,
    "assigner",
    member("admin"),
    "Set what a team's campaigns hand its texters: the kind of batch and the largest one "
    "(issue #33), and its priority.",
    idempotent=True,
)
CAMPAIGN_CREATE = Route(
    "baton.admin.campaign.create",
    admin.CreateCampaign,
    admin.CampaignCreated,
    "assigner",
    member("admin"),
    "Create a campaign (a draft), optionally sending from one of the organization's numbers.",
    (E.CONFLICT,),
)
CAMPAIGN_UPDATE = Route(
    "baton.admin.campaign.update",
    admin.UpdateCampaign,
    admin.Campaign,
    "assigner",
    member("moderator", "changing `status` needs admin"),
    "Change a campaign: status, batch size, self-assignment, texting hours, release timeout.",
    (E.CONFLICT,),
    idempotent=True,
)
CAMPAIGN_READ = Route(
    "baton.query.campaign",
    query.ReadCampaign,
    admin.Campaign,
    "assigner",
    member("texter", "a texter only of a campaign they text on"),
    "Read a campaign's settings (its texting hours, batch sizes, sending number).",
    (E.NOT_A_MEMBER,),
    idempotent=True,
)
CAMPAIGN_TEXTERS_ADD = Route(
    "baton.admin.campaign.texters.add",
    admin.CampaignTexters,
    admin.TextersChanged,
    "assigner",
    member("moderator"),
    "Enroll organization members as texters on a campaign.",
    (E.NOT_A_MEMBER,),
    idempotent=True,
)
CAMPAIGN_TEXTERS_REMOVE = Route(
    "baton.admin.campaign.texters.remove",
    admin.CampaignTexters,
    admin.TextersChanged,
    "assigner",
    member("moderator"),
    "Remove texters from a campaign; what they held goes back to Unassigned.",
    (E.NOT_A_MEMBER,),
    idempotent=True,
)
CAMPAIGN_INVITE = Route(
    "baton.admin.campaign.invite",
    admin.CreateInvite,
    admin.InviteCreated,
    "assigner",
    member("moderator"),
    "Make an invite link's token: whoever joins with it texts the campaign.",
)
CAMPAIGN_INVITE_REVOKE = Route(
    "baton.admin.campaign.invite.revoke",
    admin.RevokeInvite,
    admin.Revoked,
    "assigner",
    member("moderator"),
    "Revoke an invite link.",
    idempotent=True,
)
CONTACTS_IMPORT = Route(
    "baton.admin.contacts.import",
    admin.ImportContacts,
    admin.ImportResult,
    "assigner",
    member("moderator"),
    "Import contacts into a campaign: one request, or parts staged under "
    "an import id and committed at once.",
    (E.CONFLICT, E.BUSY),
    idempotent=True,
)

# --- Reads (the assigner) ---
CAMPAIGN_STATS = Route(
    "baton.query.campaign.stats",
    query.CampaignStatsRequest,
    query.CampaignStats,
    "assigner",
    member("moderator"),
    "Counts by status and texter, and what is textable now per zone.",
    idempotent=True,
)
CONVERSATIONS = Route(
    "baton.query.conversations",
    query.ListConversations,
    query.ConversationPage,
    "assigner",
    member("texter", "a texter sees only their own conversations, in campaigns they text on"),
    "A page of a campaign's conversations, by assignee or Unassigned, in id order.",
    (E.NOT_A_MEMBER,),
    idempotent=True,
)

# --- Assignment (the assigner) ---
ASSIGN_REQUEST = Route(
    "baton.assign.request",
    assign.RequestBatch,
    assign.Batch,
    "assigner",
    member(
        "texter",
        "for the caller, a texter on the campaign (or, naming none, one of their "
        "teams' campaigns or one they text on, picked for them)",
    ),
    "Take a batch of Unassigned conversations (initials) or of replies waiting; without "
    "`campaign_id`, from the campaign picked by team priority, then age.",
    (
        E.NOT_A_MEMBER,
        E.CAMPAIGN_NOT_ACTIVE,
        E.SELF_ASSIGN_DISABLED,
        E.INITIALS_PENDING,
        E.REPLIES_PENDING,
        E.NO_MORE_CONVERSATIONS,
        E.NONE_TEXTABLE_NOW,
        E.BUSY,
        E.REQUEST_PENDING,
        E.NOT_APPROVED,
        E.KIND_NOT_ALLOWED,
    ),
)
ASSIGN_JOIN = Route(
    "baton.assign.join",
    assign.Join,
    assign.Joined,
    "assigner",
    Access(
        role="texter",
        any_user=True,
        rule="with a valid invite token; enrolls the caller as a texter",
    ),
    "Join a campaign with an invite token and take a first batch, under the caller's request "
    "level as `baton.assign.request`: `first_batch_error` says why none came (`not_approved`; "
    "`pending_approval` or `request_pending` with the waiting request's `request_id`).",
    (E.INVALID_INVITE, E.BUSY),
)
REASSIGN = Route(
    "baton.assign.reassign",
    assign.Reassign,
    assign.Reassigned,
    "assigner",
    member("moderator", "Unassign All across every sender needs admin"),
    "Reassign or unassign conversations: from a texter or Unassigned, by status, some or all, "
    "spread over texters (`to_texter_ids: []` with `confirm: true` unassigns).",
    (E.NOT_A_MEMBER, E.CONFIRMATION_REQUIRED),
)
MOVE = Route(
    "baton.assign.move",
    assign.Move,
    assign.Reassigned,
    "assigner",
    member("moderator"),
    "Move one conversation to a texter, or to Unassigned.",
    (E.NOT_A_MEMBER,),
    idempotent=True,
)
RELEASE = Route(
    "baton.assign.release",
    assign.Release,
    assign.Reassigned,
    "assigner",
    member("texter", "the caller's own replies only"),
    "Give conversations back to the pool.",
    (E.NOT_A_MEMBER,),
    idempotent=True,
)

# --- Assignment requests that wait for approval (the assigner; issue #33) ---
ASSIGNMENT_REQUESTS = Route(
    "baton.query.assignment_requests",
    approvals.ListAssignmentRequests,
    approvals.AssignmentRequests,
    "assigner",
    member("texter", "a texter sees only their own requests"),
    "An organization's assignment requests, in id order: the waiting ones (`status: pending`) "
    "for moderators, a texter's own with their outcome.",
    idempotent=True,
)
ASSIGNMENT_REQUESTS_RESOLVE = Route(
    "baton.admin.assignment_requests.resolve",
    approvals.ResolveAssignmentRequest,
    approvals.AssignmentRequest,
    "assigner",
    member("moderator", "setting `request_level` too: a moderator only a texter's"),
    "Approve a waiting request (its batch is claimed then, under every rule a direct request "
    "obeys; a refusal is kept as `refusal`) or reject it; optionally set the texter's level.",
    (E.CONFLICT, E.BUSY),
)

# --- The reads an admin app needs (the assigner; issue #33) ---
ORG_CAMPAIGNS = Route(
    "baton.query.org.campaigns",
    org_reads.ListOrgCampaigns,
    org_reads.OrgCampaigns,
    "assigner",
    member("texter", "a texter sees only the campaigns they text on, without counts"),
    "A page of an organization's campaigns with their status and, for moderators, their "
    "conversations by status (from the tallies).",
    idempotent=True,
)
ORG_TEAMS = Route(
    "baton.query.org.teams",
    org_reads.ListOrgTeams,
    org_reads.OrgTeams,
    "assigner",
    member("texter", "a texter sees only the teams they are in"),
    "A page of an organization's teams with their members.",
    idempotent=True,
)
CAMPAIGN_INVITES = Route(
    "baton.query.campaign.invites",
    org_reads.ListCampaignInvites,
    org_reads.CampaignInvites,
    "assigner",
    member("moderator"),
    "A campaign's invite links (the revoked ones too with `include_revoked`).",
    idempotent=True,
)

# --- Campaign exports (the assigner; issue #33) ---
CAMPAIGN_EXPORT = Route(
    "baton.admin.campaign.export",
    exports.StartExport,
    exports.Export,
    "assigner",
    member("moderator"),
    "Start an export of a campaign's conversations or messages as CSV (UTC times, RFC 3339), "
    "streamed into the Object Store; answered at once with the export (`running`). One per "
    "campaign and kind runs at a time: another is refused `busy` with the running `export_id`.",
    (E.BUSY,),
)
CAMPAIGN_EXPORT_READ = Route(
    "baton.query.campaign.export",
    exports.ReadExport,
    exports.Export,
    "assigner",
    member("moderator"),
    "An export's state: running (bytes so far), complete (size, rows, digest) or failed.",
    idempotent=True,
)
CAMPAIGN_EXPORT_PART = Route(
    "baton.query.campaign.export.part",
    exports.ReadExportPart,
    exports.ExportPart,
    "assigner",
    member("moderator"),
    "A complete export's CSV, one part per request, in order: `after` is the previous part's "
    "`next` (0 first); the parts' bytes add up to `size_bytes`.",
    (E.CONFLICT,),
    idempotent=True,
)

# --- Sending (the sender) ---
_SEND_REFUSALS = (
    E.IDEMPOTENCY_KEY_REUSED,
    E.NOT_A_MEMBER,
    E.ASSIGNMENT_CHANGED,
    E.CAMPAIGN_NOT_ACTIVE,
    E.OPTED_OUT,
    E.OUTSIDE_TEXTING_HOURS,
)
SEND_INITIAL = Route(
    "baton.send.initial",
    sms.Send,
    sms.Sent,
    "sender",
    member("texter", "the caller must hold the conversation"),
    "Send a conversation's initial message; the same idempotency key returns the first result.",
    (*_SEND_REFUSALS, E.ALREADY_SENT),
    idempotent=True,
)
SEND_REPLY = Route(
    "baton.send.reply",
    sms.Send,
    sms.Sent,
    "sender",
    member("texter", "the caller must hold the conversation"),
    "Answer a contact; the same idempotency key returns the first result.",
    (*_SEND_REFUSALS, E.INITIAL_NOT_SENT),
    idempotent=True,
)
SEND_OPT_OUT = Route(
    "baton.send.opt_out",
    sms.OptOutContact,
    sms.ContactOptedOut,
    "sender",
    member(
        "texter",
        "the texter holding the conversation, still on its campaign, or a moderator or higher",
    ),
    "Opt a conversation's contact out, with the effects of their STOP.",
    (E.NOT_A_MEMBER, E.ASSIGNMENT_CHANGED),
    idempotent=True,
)

# --- Releases on demand (the reaper) ---
RELEASE_UNHANDLED = Route(
    "baton.admin.release.unhandled",
    rel.ReleaseUnhandled,
    rel.ReleaseResult,
    "reaper",
    member("moderator"),
    "Release every reply the campaign's texters hold, now, whatever its age.",
    idempotent=True,
)
RELEASE_STALE_INITIALS = Route(
    "baton.admin.release.stale_initials",
    rel.ReleaseStaleInitials,
    rel.ReleaseResult,
    "reaper",
    member("moderator"),
    "Release initials held unsent longer than a given age now.",
    idempotent=True,
)

ROUTES: tuple[Route[Any, Any], ...] = (
    *STATUS.values(),
    ORG_CREATE,
    ORG_UPDATE,
    ORG_NUMBERS_ADD,
    ORG_NUMBERS_REMOVE,
    ORG_NUMBERS,
    ORG_READ,
    USER_CREATE,
    ORG_MEMBERS_REMOVE,
    ORG_MEMBERS_UPDATE,
    ORG_MEMBERS,
    TEAM_CREATE,
    TEAM_ADD_MEMBERS,
    CAMPAIGN_CREATE,
    CAMPAIGN_UPDATE,
    CAMPAIGN_READ,
    CAMPAIGN_TEXTERS_ADD,
    CAMPAIGN_TEXTERS_REMOVE,
    CAMPAIGN_INVITE,
    CAMPAIGN_INVITE_REVOKE,
    CONTACTS_IMPORT,
    CAMPAIGN_STATS,
    CONVERSATIONS,
    ASSIGN_REQUEST,
    ASSIGN_JOIN,
    REASSIGN,
    MOVE,
    RELEASE,
    SEND_INITIAL,
    SEND_REPLY,
    SEND_OPT_OUT,
    RELEASE_UNHANDLED,
    RELEASE_STALE_INITIALS,
    # Issue #33: assignment requests.
    ASSIGNMENT_REQUESTS,
    ASSIGNMENT_REQUESTS_RESOLVE,
    ORG_CAMPAIGNS,
    ORG_TEAMS,
    CAMPAIGN_INVITES,
    CAMPAIGN_EXPORT,
    CAMPAIGN_EXPORT_READ,
    CAMPAIGN_EXPORT_PART,
    TEAM_UPDATE,
)
BY_SUBJECT: dict[str, Route[Any, Any]] = {route.subject: route for route in ROUTES}

# --- JetStream: texts, contacts' texts, receipts, events, dead letters ---
OUTBOUND_SMS = Channel(
    f"{OUTBOUND_ROOT}.sms",
    sms.OutboundSms,
    "OUTBOUND",
    "sender",
    "bridge",
    "Texts to send, for the SMS provider bridge, one per subject.",
    token="message_id",
)
INBOUND_SMS = Channel(
    f"{INBOUND_ROOT}.sms",
    sms.InboundSms,
    "INBOUND",
    "bridge",
    "inbound",
    "Contacts' texts, from the bridge.",
)
INBOUND_RECEIPT = Channel(
    f"{INBOUND_ROOT}.receipt",
    sms.Receipt,
    "INBOUND",
    "bridge",
    "sender",
    "Delivery receipts, from the bridge.",
)
CONVERSATIONS_ASSIGNED = Channel(
    f"{EVENTS_ROOT}.conversation.assigned",
    assign.ConversationsAssigned,
    "EVENTS",
    "assigner",
    None,
    "Batches handed out.",
    token="event_id",
)
CONVERSATIONS_REASSIGNED = Channel(
    f"{EVENTS_ROOT}.conversation.reassigned",
    assign.ConversationsMoved,
    "EVENTS",
    "assigner",
    None,
    "Moves: reassignment, a single move, and a texter's Done Texting (`reason` says which); "
    "`to_texter_id` null is Unassigned.",
    token="event_id",
)
CONVERSATIONS_RELEASED = Channel(
    f"{EVENTS_ROOT}.conversation.released",
    rel.ConversationsReleased,
    "EVENTS",
    "any service",
    None,
    "Releases by the reaper or an admin (`reason`: unhandled_timeout, texting_hours_closed, "
    "release, stale_initials).",
    token="event_id",
)
CONTACT_OPTED_OUT = Channel(
    f"{EVENTS_ROOT}.contact.opted_out",
    sms.ConsentChanged,
    "EVENTS",
    "any service",
    None,
    "A contact's STOP, or a texter's opt-out.",
    token="event_id",
)
CONTACT_OPTED_IN = Channel(
    f"{EVENTS_ROOT}.contact.opted_in",
    sms.ConsentChanged,
    "EVENTS",
    "inbound",
    None,
    "A contact's START.",
    token="event_id",
)
ASSIGNMENT_REQUEST_CHANGED = Channel(
    f"{EVENTS_ROOT}.assignment_request.changed",
    approvals.AssignmentRequestChanged,
    "EVENTS",
    "assigner",
    None,
    "An assignment request's transition: pending, approved, rejected, fulfilled (with its "
    "batch) or unfulfilled (with the claim's refusal).",
    token="event_id",
)
CAMPAIGN_EXPORTED = Channel(
    f"{EVENTS_ROOT}.campaign.exported",
    exports.Export,
    "EVENTS",
    "assigner",
    None,
    "A campaign export ended: complete (size, rows, digest) or failed (why).",
    token="event_id",
)
DEAD_LETTERS = Channel(
    DEADLETTER_ROOT,
    sms.DeadLetter,
    "DEADLETTER",
    "any service",
    None,
    "Messages that could never be processed, by the consumer that gave up on them "
    "(`inbound`, `receipts`).",
    token="source",
)

CHANNELS: tuple[Channel[Any], ...] = (
    OUTBOUND_SMS,
    INBOUND_SMS,
    INBOUND_RECEIPT,
    CONVERSATIONS_ASSIGNED,
    CONVERSATIONS_REASSIGNED,
    CONVERSATIONS_RELEASED,
    CONTACT_OPTED_OUT,
    CONTACT_OPTED_IN,
    DEAD_LETTERS,
    # Issue #33: assignment requests.
    ASSIGNMENT_REQUEST_CHANGED,
    CAMPAIGN_EXPORTED,
)


def served_by(service: ServiceName) -> tuple[Route[Any, Any], ...]:
    return tuple(route for route in ROUTES if route.service == service)
