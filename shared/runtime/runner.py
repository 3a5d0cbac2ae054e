"""`python -m services.NAME`: read settings, run the service, exit with a meaningful code."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from shared.runtime.service import ServiceDefinition, run_service
from shared.runtime.settings import SettingsError, load_settings
from shared.runtime.tokens import KeyConfigError, verifier_from_settings

EXIT_BAD_SETTINGS = 2


def main_for(definition: ServiceDefinition[Any]) -> None:
    try:
        settings = load_settings(definition.settings_type)
        verifier_from_settings(settings)
    except (SettingsError, KeyConfigError) as exc:
        print(f"baton {definition.name}: bad setting: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_SETTINGS) from None
    asyncio.run(run_service(definition, settings))
