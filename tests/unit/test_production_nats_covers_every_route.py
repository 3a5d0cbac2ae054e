"""deploy/nats/nats-production.conf lets each service subscribe to every subject the catalogue
says it serves, and the client systems' users request every one that takes a token: a subject
added to the catalogue (issue #30 added three) is served and callable in production too."""

from __future__ import annotations

import re

import pytest

from shared.contract.catalogue import ROUTES
from tests.unit.test_outbox_publishers import CONFIG


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` one or more at the end."""
    want, have = pattern.split("."), subject.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def _user_block(user: str) -> str:
    text = CONFIG.read_text()
    start = text.index(f"user: {user},")
    end = text.find("user:", start + 1)
    return text[start : end if end > 0 else len(text)]


def _allowed(user: str, kind: str) -> list[str]:
    block = _user_block(user)
    found = re.search(kind + r":\s*\{\s*allow:\s*(\[(.*?)\]|\$\w+)", block, re.S)
    assert found is not None, (user, kind)
    if found.group(1).startswith("$"):  # a variable, declared once at the top
        text = CONFIG.read_text()
        declared = re.search(re.escape(found.group(1)[1:]) + r":\s*\[(.*?)\]", text, re.S)
        assert declared is not None, found.group(1)
        return re.findall(r'"([^"]+)"', declared.group(1))
    return re.findall(r'"([^"]+)"', found.group(2))


def test_the_matching_reads_nats_wildcards() -> None:
    assert _matches("a.b.>", "a.b.c.d")
    assert not _matches("a.b.>", "a.b")
    assert _matches("a.*", "a.c")
    assert not _matches("a.*", "a.c.d")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.subject)
def test_every_route_is_served_and_callable_under_the_production_users(route: object) -> None:
    subject, service = route.subject, route.service  # type: ignore[attr-defined]
    assert any(_matches(p, subject) for p in _allowed(service, "subscribe")), (service, subject)
    for client in ("client", "webapp", "crm"):
        assert any(_matches(p, subject) for p in _allowed(client, "publish")), (client, subject)
