"""The status subject every service answers: `baton.status.<service>`."""

from __future__ import annotations

from shared.contract.schemas.base import Message, Request


class StatusRequest(Request):
    pass


class StatusReply(Message):
    service: str
    version: str
    schema_version: int
    uptime_seconds: float
    in_flight: int
