"""Crash points: `kill -9` this process at an exact moment, for the fault tests.

A `kill -9` sent from outside lands wherever the process happens to be; the windows that matter
(a commit done but its PubAck not yet in, an inbound batch committed but not acked) last
microseconds. A crash point named in `BATON_CRASH_POINTS` sends SIGKILL to the process itself
when execution reaches it, which is exactly what an outside `kill -9` at that instant would do.

With `BATON_CRASH_ONCE_DIR`, each point fires once per directory (a marker file remembers it,
across restarts), so a restarted service carries on instead of crashing forever. Nothing is
armed unless those settings say so; an unarmed point costs one set lookup.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import structlog

from shared.contract import catalogue as api

log = structlog.get_logger(__name__)


def known_points() -> frozenset[str]:
    """Every point the code reaches, so a misspelt setting is refused at start instead of never
    firing. The request layer's points are named after their subjects."""
    replying = (api.ASSIGN_REQUEST, api.REASSIGN, api.SEND_INITIAL, api.SEND_REPLY)
    return frozenset(
        {
            *(f"{route.subject}:before_reply" for route in replying),
            "outbox:after_lease",
            "outbox:before_mark_published",
            "inbound-sms:before_ack",
            "sender-receipts:before_ack",
            "sender:after_batch_commit",
            "assigner:after_claim_batch_commit",
            "reaper:after_commit",
            # The bridge, between taking a text and acking it (services/bridge/outbound.py).
            *(f"bridge-outbound:{step}" for step in BRIDGE_STEPS),
        }
    )


# Where the bridge may die with a text in hand, in the order it reaches them.
BRIDGE_STEPS = (
    "after_attempt_taken",
    "before_provider_call",
    "after_provider_accepted",
    "after_sent_recorded",
    "before_ack",
)


class _Armed:
    points: frozenset[str] = frozenset()
    once_dir: Path | None = None
    service = ""


def parse_points(spec: str) -> frozenset[str]:
    """`a,b` -> {a, b}; raises ValueError naming any point the code does not have."""
    points = frozenset(p.strip() for p in spec.split(",") if p.strip())
    unknown = sorted(points - known_points())
    if unknown:
        raise ValueError(f"unknown crash points: {', '.join(unknown)}")
    return points


def arm(service: str, spec: str, once_dir: str) -> None:
    _Armed.points = parse_points(spec)
    _Armed.once_dir = Path(once_dir) if once_dir else None
    _Armed.service = service
    if _Armed.points:
        log.warning("crash_points_armed", points=sorted(_Armed.points), once_dir=once_dir)


def reached(point: str) -> None:
    """Die here, as by `kill -9`, if this point is armed (and, with a once-dir, not yet fired)."""
    if point not in _Armed.points:
        return
    if _Armed.once_dir is not None:
        marker = _Armed.once_dir / f"{_Armed.service}.{point.replace(':', '.')}"
        try:
            # O_EXCL: of two replicas reaching the point together, exactly one fires.
            marker.touch(exist_ok=False)
        except FileExistsError:
            return
    log.warning("crash_point_reached", point=point)
    os.kill(os.getpid(), signal.SIGKILL)
