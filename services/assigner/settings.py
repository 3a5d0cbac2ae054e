"""The assigner's settings: `BATON_<FIELD>` variables, beside shared/runtime/settings.py's common
ones."""

from __future__ import annotations

from dataclasses import dataclass

from shared.runtime.settings import CommonSettings, require


@dataclass(frozen=True)
class AssignerSettings(CommonSettings):
    metrics_port: int = 9101
    # Region assumed for imported phone numbers written without a country code.
    default_region: str = "US"
    # How often the pool floors of campaigns being claimed from are raised (0: never, which
    # leaves the empty-pool check scanning from each campaign's start; benchmarks compare).
    pool_floor_interval_seconds: float = 1.0
    # Worker processes checking imported phone numbers, started by the first large import (0:
    # checked in the assigner's own process, holding its other requests meanwhile).
    import_check_processes: int = 2
    # How long a campaign export's object is kept (the exports bucket's age limit), in hours.
    export_ttl_hours: int = 72
    # The exports bucket's size limit in bytes: an export that would go past it fails (and its
    # part is deleted) instead of filling JetStream's disk. 10 GiB by default.
    export_max_bytes: int = 10 * 2**30

    def validate(self) -> None:
        super().validate()
        require(self.pool_floor_interval_seconds >= 0, "pool_floor_interval_seconds", "0 or more")
        require(0 <= self.import_check_processes <= 64, "import_check_processes", "0 to 64")
        require(1 <= self.export_ttl_hours <= 24 * 365, "export_ttl_hours", "1 to 8760")
        require(self.export_max_bytes >= 2**20, "export_max_bytes", "1048576 (1 MiB) or more")
        require(
            len(self.default_region) == 2 and self.default_region.isupper(),
            "default_region",
            "a two-letter region code such as US",
        )
