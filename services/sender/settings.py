"""The sender's settings: `BATON_<FIELD>` variables, beside shared/runtime/settings.py's common
ones."""

from __future__ import annotations

from dataclasses import dataclass

from shared.runtime.settings import CommonSettings


@dataclass(frozen=True)
class SenderSettings(CommonSettings):
    metrics_port: int = 9102
