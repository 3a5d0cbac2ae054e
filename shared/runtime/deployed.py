"""Which of Baton's services a deployment runs: the four core ones always, and the provider
bridge where an SMS provider is configured (`BATON_BRIDGE_PROVIDER`, issue #31). `baton up` asks
here what to start. `baton status` and `baton simulate` ask the running Baton instead
(tools/cli/running_bridge.py), whatever their own environment says."""

from __future__ import annotations

import os
from collections.abc import Mapping

from shared.contract.catalogue import CORE_SERVICE_NAMES, ServiceName

PROVIDER_VARIABLE = "BATON_BRIDGE_PROVIDER"


def bridge_configured(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get(PROVIDER_VARIABLE, "").strip())


def deployed_services(environ: Mapping[str, str] | None = None) -> tuple[ServiceName, ...]:
    if bridge_configured(environ):
        return (*CORE_SERVICE_NAMES, "bridge")
    return CORE_SERVICE_NAMES
