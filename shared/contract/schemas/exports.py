"""Campaign exports (issue #33): a campaign's conversations or messages as CSV in the JetStream
Object Store, fetched in parts through `baton.query.campaign.export.part`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from shared.contract.schemas.base import Id, Message, Request

ExportKind = Literal["conversations", "messages"]
ExportState = Literal["running", "complete", "failed"]
ConversationStatus = Literal["not_started", "awaiting_reply", "needs_reply", "replied", "closed"]


class StartExport(Request):
    """`baton.admin.campaign.export`: answered at once with the export's id; the export runs
    on."""

    campaign_id: Id
    kind: ExportKind
    # Only conversations in these statuses (`awaiting_reply`: sent, no reply yet); empty: all.
    status: Annotated[list[ConversationStatus], msgspec.Meta(max_length=5)] = []
    # A time range [since, until), RFC 3339 with an offset: messages by when they were created,
    # conversations by when they last changed.
    since: datetime | None = None
    until: datetime | None = None


class ReadExport(Request):
    """`baton.query.campaign.export`: an export's state."""

    export_id: Id


class Export(Message):
    export_id: int
    # The campaign's organization (so a reader of the `campaign.exported` event knows whose).
    org_id: int
    campaign_id: int
    kind: str
    state: ExportState
    # Bytes of CSV written so far; once complete, the object's size.
    size_bytes: int
    # Once complete: the rows (header line not counted), the parts to fetch, and the Object
    # Store's digest of the whole (`SHA-256=` and base64url).
    row_count: int | None
    digest: str | None
    # Why it failed.
    error: str | None
    created_at: str  # RFC 3339, UTC
    finished_at: str | None
    # The object is gone after this (BATON_EXPORT_TTL_HOURS after the start).
    expires_at: str


class ReadExportPart(Request):
    """`baton.query.campaign.export.part`: the part after `after`, the `next` of the part
    before (0 for the first)."""

    export_id: Id
    after: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)] = 0


class ExportPart(Message):
    export_id: int
    # The CSV's next bytes (base64 in JSON); the parts in order are the whole object.
    data: bytes
    # What to send as `after` for the part that follows.
    next: int
