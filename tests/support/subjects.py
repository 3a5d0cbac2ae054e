"""Every request/reply subject each service serves, read from the services' own definitions."""

from __future__ import annotations

from typing import Any

from services.assigner.service import DEFINITION as ASSIGNER
from services.inbound.service import DEFINITION as INBOUND
from services.reaper.service import DEFINITION as REAPER
from services.sender.service import DEFINITION as SENDER
from shared.service import ServiceDefinition

DEFINITIONS: tuple[ServiceDefinition, ...] = (ASSIGNER, SENDER, INBOUND, REAPER)


def declared_subjects(definition: ServiceDefinition, context: Any) -> list[str]:
    return [endpoint.subject for endpoint in definition.endpoints(context)]
