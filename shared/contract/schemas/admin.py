"""Campaign administration: organizations, people, teams, campaigns, invite links, contacts."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

import msgspec

from shared.contract.schemas.approvals import RequestLevel
from shared.contract.schemas.base import Id, Message, Name, Request

BatchSize = Annotated[int, msgspec.Meta(ge=1, le=5000)]
Role = Literal["owner", "admin", "moderator", "texter"]
CampaignStatus = Literal["draft", "active", "archived"]
InviteKind = Literal["initials", "replies"]
Hour = Annotated[int, msgspec.Meta(ge=0, le=24)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=525_600)]
ClosingMargin = Annotated[int, msgspec.Meta(ge=0, le=720)]
ZoneName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# One request may carry this many contacts; larger lists go through `baton contacts import`.
MAX_CONTACTS_PER_REQUEST = 10_000


class CreateOrg(Request):
    name: Name
    default_batch_size: BatchSize | None = None


class OrgCreated(Message):
    org_id: int


# A number Baton texts from: a valid E.164 number (or one phonenumbers reads as valid in the
# default region), or a short code of 5 or 6 digits; N11 and other service codes are refused
# (shared/domain/phones.py `to_sending_number`).
SendingNumber = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# One SMS segment's worth twice over: carriers expect the confirmation short.
ConfirmationText = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]


class UpdateOrg(Request):
    org_id: Id
    # null returns to the product default of 300.
    default_batch_size: BatchSize | msgspec.UnsetType | None = msgspec.UNSET
    # The one text a contact gets after opting out (it should name the program).
    opt_out_confirmation: ConfirmationText | msgspec.UnsetType = msgspec.UNSET


class Org(Message):
    org_id: int
    default_batch_size: int
    opt_out_confirmation: str


class OrgNumbers(Request):
    org_id: Id
    numbers: Annotated[list[SendingNumber], msgspec.Meta(min_length=1, max_length=100)]


class AddOrgNumbers(OrgNumbers):
    # Texts per second the provider bridge sends from each of these numbers (the carrier's rate
    # for a 10DLC, toll-free or short-code number); omitted: the bridge's default
    # (BATON_BRIDGE_DEFAULT_RATE), or the rate a number already had.
    rate_per_second: Annotated[float, msgspec.Meta(gt=0, le=1000)] | None = None


class ListOrgNumbers(Request):
    org_id: Id


class OrgNumbersView(Message):
    org_id: int
    # The organization's sending numbers, normalised, in order.
    numbers: list[str]


class CreateUser(Request):
    org_id: Id
    name: Name
    role: Role


class UserCreated(Message):
    user_id: int


class CreateTeam(Request):
    org_id: Id
    name: Name


class TeamCreated(Message):
    team_id: int


AssignmentKind = Literal["initials", "replies", "both"]
Priority = Annotated[int, msgspec.Meta(ge=-1_000_000, le=1_000_000)]


class UpdateTeam(Request):
    """`baton.admin.team.update` (issue #33): what the team's campaigns hand its texters."""

    team_id: Id
    # Higher first, for requests that name no campaign.
    assignment_priority: Priority | msgspec.UnsetType = msgspec.UNSET
    # The kind of batch a campaign limited to this team hands out.
    assignment_kind: AssignmentKind | msgspec.UnsetType = msgspec.UNSET
    # The largest batch there (the smaller of this and the campaign's); null: no limit.
    max_request_size: BatchSize | msgspec.UnsetType | None = msgspec.UNSET


class Team(Message):
    team_id: int
    org_id: int
    name: str
    assignment_priority: int
    assignment_kind: AssignmentKind
    max_request_size: int | None


class AddTeamMembers(Request):
    team_id: Id
    user_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=10_000)]


class TexterHours(Message, forbid_unknown_fields=True):
    """Whole hours in the contact's own zone: texts may go from `start`:00 until `end`:00."""

    start: Hour
    end: Hour


TeamIds = Annotated[list[Id], msgspec.Meta(max_length=100)]


class CreateCampaign(Request):
    org_id: Id
    title: Name
    # The teams whose texters it is for (issue #33); empty: no team.
    team_ids: TeamIds | None = None
    # Deprecated, for the previous release's clients: `team_ids: [team_id]`.
    team_id: Id | None = None
    texting_hours: TexterHours | None = None
    # One of the organization's numbers (baton.admin.org.numbers.add); replies to it come here.
    sending_number: SendingNumber | None = None


class CampaignCreated(Message):
    campaign_id: int
    batch_size: int


class UpdateCampaign(Request):
    campaign_id: Id
    status: CampaignStatus | msgspec.UnsetType = msgspec.UNSET
    self_assign: bool | msgspec.UnsetType = msgspec.UNSET
    # null returns to the organization's current default.
    batch_size: BatchSize | msgspec.UnsetType | None = msgspec.UNSET
    replies_batch_size: BatchSize | msgspec.UnsetType = msgspec.UNSET
    require_replies_handled: bool | msgspec.UnsetType = msgspec.UNSET
    # null switches Release Unhandled Replies off.
    release_unhandled_after_minutes: Minutes | msgspec.UnsetType | None = msgspec.UNSET
    texting_hours: TexterHours | msgspec.UnsetType = msgspec.UNSET
    # null: none (the bridge chooses, and reports the number in its receipts).
    sending_number: SendingNumber | msgspec.UnsetType | None = msgspec.UNSET
    # Batches stop taking a contact this long before their texting hours close (default 30).
    closing_margin_minutes: ClosingMargin | msgspec.UnsetType = msgspec.UNSET
    # An IANA zone for numbers spanning several zones (or none known); null: such a number is
    # texted only while all of its zones are open.
    fallback_zone: ZoneName | msgspec.UnsetType | None = msgspec.UNSET
    # The teams it is limited to, all of them (issue #33); empty: none.
    team_ids: TeamIds | msgspec.UnsetType = msgspec.UNSET


class Campaign(Message):
    campaign_id: int
    org_id: int
    # The first of `team_ids` (deprecated, for the previous release's clients).
    team_id: int | None
    team_ids: list[int]
    title: str
    status: str
    self_assign: bool
    batch_size: int
    replies_batch_size: int
    require_replies_handled: bool
    release_unhandled_after_minutes: int | None
    texting_hours: TexterHours
    sending_number: str | None
    closing_margin_minutes: int
    fallback_zone: str | None


class CampaignTexters(Request):
    campaign_id: Id
    user_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=10_000)]


class TextersChanged(Message):
    changed: int
    # Conversations the people removed held, returned to Unassigned (a removal only).
    unassigned: int = 0


class OrgMember(Request):
    """`baton.admin.org.members.remove`: take someone out of an organization."""

    org_id: Id
    user_id: Id


class UpdateOrgMember(Request):
    """`baton.admin.org.members.update`: change a member's role, or their request level
    (at least one of the two)."""

    org_id: Id
    user_id: Id
    role: Role | msgspec.UnsetType = msgspec.UNSET
    request_level: RequestLevel | msgspec.UnsetType = msgspec.UNSET


class ListOrgMembers(Request):
    """`baton.query.org.members`: the members, or the one named, by user id."""

    org_id: Id
    user_id: Id | None = None


class OrgMemberView(Message):
    user_id: int
    name: str
    role: Role
    request_level: RequestLevel


class OrgMembers(Message):
    org_id: int
    members: list[OrgMemberView]


class MemberRemoved(Message):
    user_id: int
    # Conversations they held in the organization's campaigns, returned to Unassigned.
    unassigned: int


class CreateInvite(Request):
    campaign_id: Id
    kind: InviteKind


class InviteCreated(Message):
    token: str


class RevokeInvite(Request):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Revoked(Message):
    revoked: bool


# A custom field's value: text, a number, true, false or null, or an object or list of them,
# nested at most three deep below `fields` (`fields.a.b.c`). Spelled out level by level, so that
# msgspec refuses anything deeper where it meets it (`bad_request` naming the field) instead of
# recursing into it: a thousand levels used to end in a RecursionError, answered `internal`.
# Each bounded (issue #30: one value of a million characters was stored): a key, a text value,
# the entries of `fields` and of any object or list in it, and the row's fields in all, as JSON.
# Past one, the contact is `bad_request` naming where (`$.contacts[3].fields.note`).
# tools/cli/contacts_file.py checks a file's rows against the same numbers before sending any.
MAX_FIELD_KEY = 100
MAX_FIELD_TEXT = 10_000
MAX_FIELD_ENTRIES = 100
MAX_FIELDS_BYTES = 32_768
FieldKey = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_FIELD_KEY)]
FieldText = Annotated[str, msgspec.Meta(max_length=MAX_FIELD_TEXT)]
FieldScalar = FieldText | int | float | bool | None
_Entries = msgspec.Meta(max_length=MAX_FIELD_ENTRIES)
_FieldValue2 = (
    FieldScalar
    | Annotated[dict[FieldKey, FieldScalar], _Entries]
    | Annotated[list[FieldScalar], _Entries]
)
FieldValue = (
    FieldScalar
    | Annotated[dict[FieldKey, _FieldValue2], _Entries]
    | Annotated[list[_FieldValue2], _Entries]
)


class ContactRow(Request):
    phone: Annotated[str, msgspec.Meta(max_length=64)]
    first_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    last_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    fields: Annotated[dict[FieldKey, FieldValue], _Entries] = msgspec.field(default_factory=dict)
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None

    def __post_init__(self) -> None:
        # msgspec reports a ValueError here as a ValidationError at this contact's path.
        if self.fields and len(msgspec.json.encode(self.fields)) > MAX_FIELDS_BYTES:
            raise ValueError(f"`fields` may hold at most {MAX_FIELDS_BYTES} bytes of JSON in all")


# A file import has at most this many rows (`baton contacts import`; 0005_contact_file_imports).
MAX_FILE_ROWS = 10_000_000
FileRows = Annotated[int, msgspec.Meta(ge=1, le=MAX_FILE_ROWS)]
FileStep = Literal["stage", "commit", "abort"]


class FilePart(Request):
    """One part of a file import: all of a file's rows go into the campaign in one transaction,
    or none do.

    `stage` holds the part's contacts under `import_id` (a UUID the client picks; the part with
    `first_row` 0 starts the import, and only its starter may add to it, commit or abort it);
    a part sent again stages nothing new. `commit` stages its contacts too, then imports every
    row staged, once exactly `rows` are; a commit sent again answers as the first did. `abort`
    drops what was staged (it carries no contacts). Imports untouched for a day are dropped.
    Parts after the first may be sent side by side; a commit or an abort while any is being
    staged is `busy`, and so is a part while either is at work."""

    import_id: uuid.UUID
    # The file's rows, all parts together; the same in every part.
    rows: FileRows
    # The place in the file of this part's first contact, from 0; rejections are numbered so.
    first_row: Annotated[int, msgspec.Meta(ge=0, lt=MAX_FILE_ROWS)] = 0
    step: FileStep = "stage"


class ImportContacts(Request):
    campaign_id: Id
    contacts: Annotated[list[ContactRow], msgspec.Meta(max_length=MAX_CONTACTS_PER_REQUEST)]
    # Absent: these contacts are imported now, in one transaction. Present: they are one part of
    # a file import, imported only with all the others by its commit.
    file: FilePart | None = None


class Rejected(Message):
    row: int
    reason: str


# A file import's commit lists this many rejections; `rejected_by_reason` counts all of them.
FIRST_REJECTIONS = 1000


class ImportResult(Message, omit_defaults=True):
    imported: int
    duplicates: int
    # The rejected rows in order (a file import's commit: the first 1,000), duplicates included.
    rejected: list[Rejected]
    # A file import's commit: every rejected row counted by reason (`invalid_phone`,
    # `invalid_timezone`, `duplicate`, `opted_out`); left out when there are none.
    rejected_by_reason: dict[str, int] = msgspec.field(default_factory=dict)
    # A file import's `stage`: the rows held under its id so far, none of them imported yet.
    staged: int = 0
