"""The one list of Baton's services: each name (declared in shared/contract/catalogue.py) with its
definition, which names its settings type. `python -m services NAME` runs one; `baton up`, the
container entry point, the docs and the tests take the names from here.
"""

from __future__ import annotations

from typing import Any

from services.assigner.service import DEFINITION as ASSIGNER
from services.bridge.service import DEFINITION as BRIDGE
from services.inbound.service import DEFINITION as INBOUND
from services.reaper.service import DEFINITION as REAPER
from services.sender.service import DEFINITION as SENDER
from shared.contract.catalogue import SERVICE_NAMES, ServiceName
from shared.runtime.runner import main_for
from shared.runtime.service import ServiceDefinition

REGISTRY: dict[ServiceName, ServiceDefinition[Any]] = {
    "assigner": ASSIGNER,
    "sender": SENDER,
    "inbound": INBOUND,
    "reaper": REAPER,
    "bridge": BRIDGE,
}
assert tuple(REGISTRY) == SERVICE_NAMES, "the registry lists the catalogue's services, in order"
DEFINITIONS: tuple[ServiceDefinition[Any], ...] = tuple(REGISTRY.values())


def run(name: str) -> None:
    """Run the service `name` in this process until SIGTERM; exits 2 on a bad setting."""
    main_for(REGISTRY[name])  # type: ignore[index]  # callers check against SERVICE_NAMES
