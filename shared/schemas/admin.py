"""Campaign administration: organizations, people, teams, campaigns, invite links, contacts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from shared.schemas.base import Id, Message, Name, Request

BatchSize = Annotated[int, msgspec.Meta(ge=1, le=5000)]
Role = Literal["owner", "admin", "moderator", "texter"]
CampaignStatus = Literal["draft", "active", "archived"]
InviteKind = Literal["initials", "replies"]
Hour = Annotated[int, msgspec.Meta(ge=0, le=24)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=525_600)]
# One request may carry this many contacts; larger lists go through `baton contacts import`.
MAX_CONTACTS_PER_REQUEST = 10_000


class CreateOrg(Request):
    name: Name
    default_batch_size: BatchSize | None = None


class OrgCreated(Message):
    org_id: int


# A number Baton texts from: E.164 (or anything phonenumbers reads in the default region), or a
# short code.
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


class AddTeamMembers(Request):
    team_id: Id
    user_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=10_000)]


class TexterHours(Message):
    start: Hour
    end: Hour


class CreateCampaign(Request):
    org_id: Id
    title: Name
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


class Campaign(Message):
    campaign_id: int
    org_id: int
    team_id: int | None
    title: str
    status: str
    self_assign: bool
    batch_size: int
    replies_batch_size: int
    require_replies_handled: bool
    release_unhandled_after_minutes: int | None
    texting_hours: TexterHours
    sending_number: str | None


class CampaignTexters(Request):
    campaign_id: Id
    user_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=10_000)]


class TextersChanged(Message):
    changed: int


class CreateInvite(Request):
    campaign_id: Id
    kind: InviteKind


class InviteCreated(Message):
    token: str


class RevokeInvite(Request):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Revoked(Message):
    revoked: bool


class ContactRow(Request):
    phone: Annotated[str, msgspec.Meta(max_length=64)]
    first_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    last_name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    fields: dict[str, Any] = msgspec.field(default_factory=dict)
    timezone: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class ImportContacts(Request):
    campaign_id: Id
    contacts: Annotated[list[ContactRow], msgspec.Meta(max_length=MAX_CONTACTS_PER_REQUEST)]


class Rejected(Message):
    row: int
    reason: str


class ImportResult(Message):
    imported: int
    duplicates: int
    rejected: list[Rejected]
