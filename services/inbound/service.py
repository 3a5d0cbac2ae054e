"""The inbound service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from shared.jetstream import INBOUND_SMS_CONSUMER
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(name="inbound", consumers=(INBOUND_SMS_CONSUMER,))
