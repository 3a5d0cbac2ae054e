"""What a simulated campaign looks like."""

from __future__ import annotations

import random
from dataclasses import dataclass

# Where the simulated organization's one number is taken from: its campaign texts from it and
# contacts reply to it. A number belongs to one organization, so each run takes one of its own
# (555-01xx numbers are set aside for fiction, 415-555-xxxx as well).
SENDING_NUMBER_PREFIX = "+1415555"


SENDING_NUMBERS = 10_000


def fresh_sending_number(chooser: random.Random | None = None) -> str:
    return _sending_number((chooser or random.SystemRandom()).randrange(SENDING_NUMBERS))


def every_sending_number() -> set[str]:
    """Every number `fresh_sending_number` draws: what the provider simulator's account holds
    beside `baton up`, so the bridge accepts whichever a simulation draws."""
    return {_sending_number(n) for n in range(SENDING_NUMBERS)}


def _sending_number(n: int) -> str:
    return f"{SENDING_NUMBER_PREFIX}{n:04d}"


@dataclass(frozen=True)
class Scenario:
    contacts: int = 10_000
    texters: int = 20
    batch_size: int = 300
    # Messages per second per texter, at most (ThruText's QuickSend guidance is about 10).
    send_rate: float = 10.0
    # Share of contacts who answer an initial, and of those answers that are STOP.
    reply_rate: float = 0.07
    stop_rate: float = 0.1
    # Share of texters who send one batch and stop: their replies are released by the reaper.
    unresponsive: float = 0.2
    release_after_minutes: int | None = 1
    # When to reassign one texter's waiting replies to another (seconds into the run).
    reassign_after_seconds: float = 20.0
    time_limit_seconds: float = 600.0
