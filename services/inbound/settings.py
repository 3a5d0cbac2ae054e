"""The inbound's settings: `BATON_<FIELD>` variables, beside shared/runtime/settings.py's common
ones."""

from __future__ import annotations

from dataclasses import dataclass

from shared.runtime.settings import CommonSettings, require


@dataclass(frozen=True)
class InboundSettings(CommonSettings):
    metrics_port: int = 9103
    # Messages fetched at once, all handed over together: replies among them are recorded four
    # batches at a time (services/inbound/replies.py), so two writers overlap. Measured (#17,
    # bench.messaging, 20,000 replies): at 256, lag p99 3.2-5.7 s; at 1,024, 0.8 s.
    fetch_batch: int = 1024
    fetch_timeout_seconds: float = 1.0
    # A message that failed on a passing error comes back after this delay.
    retry_delay_seconds: float = 2.0

    def validate(self) -> None:
        super().validate()
        require(1 <= self.fetch_batch <= 10_000, "fetch_batch", "1..10000")
        require(self.fetch_timeout_seconds > 0, "fetch_timeout_seconds", "greater than 0")
        require(self.retry_delay_seconds >= 0, "retry_delay_seconds", "0 or more")
