"""The reaper service's definition: what it serves and which workers it runs."""

from __future__ import annotations

from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(name="reaper")
