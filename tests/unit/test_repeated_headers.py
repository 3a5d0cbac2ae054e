"""A repeated Authorization header is found in the raw header block nats-py drops (issue #30)."""

from __future__ import annotations

import asyncio

import pytest

from shared.repeated_headers import RepeatAwareClient, repeats_authorization


@pytest.mark.parametrize(
    ("raw", "repeated"),
    [
        (b"NATS/1.0\r\nAuthorization: Bearer a\r\n\r\n", False),
        (b"NATS/1.0\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n", True),
        (b"NATS/1.0\r\nauthorization: Bearer a\r\nAUTHORIZATION:Bearer b\r\n\r\n", True),
        (
            b"NATS/1.0\r\nAuthorization: Bearer a\r\nX-Note: Authorization authorization\r\n\r\n",
            False,
        ),
        (b"NATS/1.0\r\nX-Authorization: a\r\nAuthorization: Bearer b\r\n\r\n", False),
        (b"NATS/1.0\r\nAuthorization : Bearer a\r\nAuthorization: Bearer b\r\n\r\n", True),
    ],
    ids=[
        "one",
        "two-same-case",
        "two-other-cases",
        "named-in-a-value",
        "other-name",
        "space-before-colon",
    ],
)
def test_repeats_are_counted_by_line_name(raw: bytes, repeated: bool) -> None:
    assert repeats_authorization(raw) is repeated


def test_the_client_keeps_no_authorization_when_it_is_repeated() -> None:
    """nats-py's own parsing (the pinned version) keeps the last of two; ours keeps neither."""
    client = RepeatAwareClient()
    raw = b"NATS/1.0\r\nAuthorization: Bearer first\r\nAuthorization: Bearer last\r\nA: b\r\n\r\n"
    parsed = asyncio.run(client._process_headers(raw))
    assert parsed == {"A": "b"}
    plain = asyncio.run(super(RepeatAwareClient, client)._process_headers(raw))
    assert plain is not None and plain["Authorization"] == "Bearer last"
    single = b"NATS/1.0\r\nAuthorization: Bearer only\r\n\r\n"
    assert asyncio.run(client._process_headers(single)) == {"Authorization": "Bearer only"}
