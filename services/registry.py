"""The one list of Baton's services: each name (declared in shared/catalogue.py) with its
definition and settings. `python -m services NAME` runs one; `baton up`, the container entry
point, the docs and the tests take the names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.assigner.service import DEFINITION as ASSIGNER
from services.assigner.settings import AssignerSettings
from services.bridge.service import DEFINITION as BRIDGE
from services.bridge.settings import BridgeSettings
from services.inbound.service import DEFINITION as INBOUND
from services.inbound.settings import InboundSettings
from services.reaper.service import DEFINITION as REAPER
from services.reaper.settings import ReaperSettings
from services.sender.service import DEFINITION as SENDER
from services.sender.settings import SenderSettings
from shared.catalogue import SERVICE_NAMES, ServiceName
from shared.runner import main_for
from shared.service import ServiceDefinition
from shared.settings import CommonSettings


@dataclass(frozen=True)
class Registered:
    definition: ServiceDefinition
    settings: type[CommonSettings]


REGISTRY: dict[ServiceName, Registered] = {
    "assigner": Registered(ASSIGNER, AssignerSettings),
    "sender": Registered(SENDER, SenderSettings),
    "inbound": Registered(INBOUND, InboundSettings),
    "reaper": Registered(REAPER, ReaperSettings),
    "bridge": Registered(BRIDGE, BridgeSettings),
}
assert tuple(REGISTRY) == SERVICE_NAMES, "the registry lists the catalogue's services, in order"
DEFINITIONS: tuple[ServiceDefinition, ...] = tuple(r.definition for r in REGISTRY.values())


def run(name: str) -> None:
    """Run the service `name` in this process until SIGTERM; exits 2 on a bad setting."""
    registered = REGISTRY[name]  # type: ignore[index]  # callers check against SERVICE_NAMES
    main_for(registered.definition, registered.settings)
