"""The sender service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from shared.jetstream import RECEIPTS_CONSUMER
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(name="sender", consumers=(RECEIPTS_CONSUMER,))
