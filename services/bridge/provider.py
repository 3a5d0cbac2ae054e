"""What the bridge needs of a provider, whichever it is: send a text, find one already sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.contract.schemas.messaging import OutboundSms
from shared.domain.provider_codes import Outcome

# Provider sends in progress at once (services/bridge/lanes.py holds each call to one place), and
# the HTTP connections a provider client keeps: one per send, and a few more for the message-list
# lookups and the number sync, which hold no place, so a send never waits for a connection after
# its number's slot has come.
SENDS_AT_ONCE = 100
CONNECTIONS = SENDS_AT_ONCE + 10


@dataclass(frozen=True)
class Accepted:
    # `{provider}:{account}:{provider's id}`.
    provider_message_id: str
    # The number it went from, as the provider reports it (a Messaging Service picks one).
    from_number: str | None


class ProviderRefusedError(Exception):
    """The provider answered, and did not take the text (for now, or for good)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.code)
        self.outcome = outcome


class ProviderUnreachableError(Exception):
    """No answer (a timeout, a lost connection): the text may or may not have been taken."""


class Provider(Protocol):
    name: str
    account: str
    # The provider picks the number for a text without one (a Messaging Service, a profile).
    picks_numbers: bool

    async def send(self, text: OutboundSms) -> Accepted: ...
    async def find(self, text: OutboundSms, since: datetime) -> Accepted | None: ...
    async def numbers(self) -> list[str]: ...
    async def close(self) -> None: ...
