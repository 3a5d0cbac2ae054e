"""A repeated Authorization header is found in the raw header block nats-py drops (issue #30)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client as NatsClient

from shared.runtime.repeated_headers import RepeatAwareClient, repeats_authorization


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
        # Found by the outside review: a lone LF or CR beside the name, which nats-py strips.
        (b"NATS/1.0\r\nAuthorization: Bearer a\r\n\nAuthorization: Bearer b\r\n\r\n", True),
        (b"NATS/1.0\r\nAuthorization: Bearer a\r\n\rAuthorization: Bearer b\r\n\r\n", True),
        (b"NATS/1.0\r\nAuthorization: Bearer a\r\nAuthorization\r: Bearer b\r\n\r\n", True),
        (b"NATS/1.0\r\nAuthorization: x\r\n\x0b\x0cauthorization\t: Bearer b\r\n\r\n", True),
    ],
    ids=[
        "one",
        "two-same-case",
        "two-other-cases",
        "named-in-a-value",
        "other-name",
        "space-before-colon",
        "lf-before-name",
        "cr-before-name",
        "cr-after-name",
        "vt-ff-tab",
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


@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"", b" ", b"\t", b"\r", b"\n", b"\x0b"]),
            st.sampled_from([b"Authorization", b"AUTHORIZATION", b"X-Other"]),
            st.sampled_from([b"", b" ", b"\r", b"\n"]),
        ),
        max_size=4,
    )
)
def test_the_count_agrees_with_how_nats_py_reads_names(
    lines: list[tuple[bytes, bytes, bytes]],
) -> None:
    """Whatever blanks surround the names, a block is a repeat exactly when nats-py would read
    two of its lines as the Authorization header."""
    block = b"NATS/1.0\r\n" + b"".join(b + n + a + b": v\r\n" for b, n, a in lines) + b"\r\n"
    read_as_authorization = sum(
        1
        for line in block.split(b"\r\n")[1:]
        if NatsClient._parse_header_lines(line).keys() & {"Authorization", "AUTHORIZATION"}
    )
    assert repeats_authorization(block) is (read_as_authorization > 1)
