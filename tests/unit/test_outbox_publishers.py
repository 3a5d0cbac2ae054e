"""Each service's outbox publisher takes only rows its NATS user may publish, and
deploy/nats/nats-production.conf lets each publish what its definition says it does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.registry import DEFINITIONS
from shared.runtime.jetstream import EVENTS_PREFIX, OUTBOUND_PREFIX

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-production.conf"


def publish_allowed(user: str) -> list[str]:
    """The `publish: { allow: [...] }` list of one user in the production config."""
    text = CONFIG.read_text()
    start = text.index(f"user: {user},")
    block = text[start : text.index("allow_responses", start)]
    allowed = re.search(r"publish:\s*\{\s*allow:\s*\[(.*?)\]", block, re.S)
    assert allowed is not None, f"no publish allow list for {user}"
    return re.findall(r'"([^"]+)"', allowed.group(1))


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
def test_each_service_may_publish_what_its_outbox_publisher_takes(definition: object) -> None:
    name, publishes = definition.name, definition.publishes  # type: ignore[attr-defined]
    allowed = publish_allowed(name)
    for prefix in publishes:
        assert prefix + ">" in allowed, (name, prefix, allowed)


def test_only_the_sender_publishes_texts() -> None:
    texting = {d.name for d in DEFINITIONS if OUTBOUND_PREFIX in d.publishes}
    assert texting == {"sender"}
    # Every service publishes events, but the provider bridge: it writes no outbox rows (its
    # receipts and contacts' texts go to INBOUND, services/bridge/spool.py).
    assert {d.name for d in DEFINITIONS if EVENTS_PREFIX not in d.publishes} == {"bridge"}
    assert next(d for d in DEFINITIONS if d.name == "bridge").publishes == ()
    may_text = {d.name for d in DEFINITIONS if OUTBOUND_PREFIX + ">" in publish_allowed(d.name)}
    assert may_text == {"sender"}
