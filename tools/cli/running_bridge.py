"""Which provider bridge a running Baton has, found from the Baton, not from the command's
environment: `baton status`, `baton simulate` and `baton demo` ask here.

- A `baton up` running in --data-dir on the same NATS says it in its announcement (up.json): the
  provider, and the simulator its bridge sends to (`baton up --provider twilio-simulator`,
  `telnyx-simulator`).
- Any other Baton (a deployment) is asked: a bridge answering `baton.status.bridge` runs; one
  BATON_BRIDGE_PROVIDER in the environment names is expected, and reported when it is silent.
"""

from __future__ import annotations

from pathlib import Path

import nats.errors
from nats.aio.client import Client as NatsClient

from shared.contract import catalogue as api
from shared.contract.catalogue import CORE_SERVICE_NAMES, ServiceName
from shared.contract.errors import BatonError
from shared.contract.schemas.system import StatusRequest
from shared.runtime.client import BatonClient
from shared.runtime.commands.running_up import AnnouncedBridge, announced_bridge, announcement
from shared.runtime.deployed import bridge_configured
from tools.cli.provider_simulator import simulator_account
from tools.simulation.simulator_link import SimulatorLink

# A bridge asked directly answers within this, or is taken to be absent.
PROBE_SECONDS = 2.0


class RealProviderError(RuntimeError):
    """The Baton's bridge sends through a real provider: a simulation would text real phones."""


def _announced(data_dir: Path, nats_url: str) -> tuple[bool, AnnouncedBridge | None]:
    """Whether the `baton up` of `data_dir` runs on `nats_url`, and the bridge it announced."""
    if announcement(data_dir).get("nats_url") != nats_url:
        return False, None
    return True, announced_bridge(data_dir)


async def bridge_answers(nc: NatsClient) -> bool:
    """Whether a bridge answers its status subject now (asked once: no waiting for one)."""
    try:
        await BatonClient(nc, timeout=PROBE_SECONDS).call(api.STATUS["bridge"], StatusRequest())
    except (nats.errors.Error, TimeoutError, BatonError):
        return False
    return True


async def running_services(
    nc: NatsClient, data_dir: Path, nats_url: str
) -> tuple[ServiceName, ...]:
    """The services of the Baton on `nats_url`: the core ones, and the bridge where it runs."""
    ours, bridge = _announced(data_dir, nats_url)
    # A `baton up` of ours says; any other Baton is asked (and the environment expects one).
    runs = bridge is not None if ours else bridge_configured() or await bridge_answers(nc)
    return (*CORE_SERVICE_NAMES, "bridge") if runs else CORE_SERVICE_NAMES


async def simulator_link(nc: NatsClient, data_dir: Path, nats_url: str) -> SimulatorLink | None:
    """The provider simulator the Baton's bridge sends to; None when it runs no bridge (the
    simulation then stands in for one). Raises RealProviderError when the bridge sends to a
    real provider."""
    ours, bridge = _announced(data_dir, nats_url)
    if bridge is not None and bridge.simulator_url:
        return simulator_account(data_dir, bridge.provider, create=False).link(bridge.simulator_url)
    if bridge is not None or (not ours and await bridge_answers(nc)):
        provider = bridge.provider if bridge is not None else "a provider"
        raise RealProviderError(
            f"this Baton's bridge sends texts through {provider}: a simulation would text real "
            "phones. Run it against `baton up --provider twilio-simulator` (or "
            "`telnyx-simulator`), whose bridge sends to a simulated provider"
        )
    return None
