"""The reaper's settings: `BATON_<FIELD>` variables, beside shared/runtime/settings.py's common
ones."""

from __future__ import annotations

from dataclasses import dataclass

from shared.runtime.settings import CommonSettings, require


@dataclass(frozen=True)
class ReaperSettings(CommonSettings):
    metrics_port: int = 9104
    reap_interval_seconds: float = 15.0
    # How often the campaign tallies are folded (services/reaper/tallies.py): a campaign's stats
    # read what was appended since, about one row per texter per statement that moved theirs.
    tally_fold_interval_seconds: float = 1.0

    def validate(self) -> None:
        super().validate()
        require(self.reap_interval_seconds > 0, "reap_interval_seconds", "greater than 0")
        require(
            self.tally_fold_interval_seconds > 0, "tally_fold_interval_seconds", "greater than 0"
        )
