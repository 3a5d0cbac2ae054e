"""The request envelope logic, with handlers that need no server."""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
import pytest

from shared.contract.access_policy import PUBLIC
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError
from shared.contract.schemas.base import Request
from shared.runtime.access import Caller
from shared.runtime.endpoints import Endpoint, answer


class Echo(Request):
    name: str
    size: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 300


async def echo(request: Echo, _: Caller) -> dict[str, Any]:
    return {"name": request.name, "size": request.size}


def _decoded(payload: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(payload)
    return result


async def test_valid_request_gets_ok() -> None:
    reply, outcome = await answer(Endpoint("t", Echo, echo, PUBLIC), b'{"name": "x"}', 1024)
    assert outcome == "ok"
    assert _decoded(reply) == {"ok": True, "data": {"name": "x", "size": 300}}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "Expected `object`"),
        (b'{"size": 3}', "missing required field `name`"),
        (b'{"name": 5}', "Expected `str`"),
        (b'{"name": "x", "size": 0}', ">= 1"),
        (b'{"name": "x", "size": 5001}', "<= 5000"),
        (b'{"name": "x", "colour": "red"}', "unknown field `colour`"),
        # Bytes that are not UTF-8 (msgspec raises UnicodeDecodeError for them, not DecodeError).
        (b'{"name": "\xff"}', "not valid JSON"),
        (b'{"name": "STOP \xed\xa0\xbd\xed\xb8\x80"}', "not valid JSON"),
    ],
)
async def test_malformed_requests_get_bad_request(payload: bytes, fragment: str) -> None:
    reply, outcome = await answer(Endpoint("t", Echo, echo, PUBLIC), payload, 1_000_000)
    body = _decoded(reply)
    assert outcome == "bad_request"
    assert body["ok"] is False
    assert body["error"]["code"] == "bad_request"
    assert fragment in body["error"]["message"]


class Loose(Request):
    fields: dict[str, Any]


async def test_a_request_nested_past_the_recursion_limit_gets_bad_request() -> None:
    payload = b'{"fields": {"a": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}"
    reply, outcome = await answer(Endpoint("t", Loose, echo, PUBLIC), payload, 1_000_000)  # type: ignore[arg-type]
    assert outcome == "bad_request"
    assert _decoded(reply)["error"]["message"] == "request is nested too deeply"


async def test_oversized_request_is_refused_before_decoding() -> None:
    reply, outcome = await answer(
        Endpoint("t", Echo, echo, PUBLIC), b'{"name": "' + b"x" * 2000 + b'"}', 1024
    )
    assert outcome == "payload_too_large"
    assert _decoded(reply)["error"]["details"] == {"limit": 1024}


async def test_refusal_keeps_its_code() -> None:
    async def refuse(_: Echo, __: Caller) -> None:
        raise BatonError(ErrorCode.NO_MORE_CONVERSATIONS, "No more conversations available")

    reply, outcome = await answer(Endpoint("t", Echo, refuse, PUBLIC), b'{"name": "x"}', 1024)
    assert outcome == "no_more_conversations"
    assert _decoded(reply)["error"]["message"] == "No more conversations available"


async def test_database_outage_is_unavailable_and_a_bug_is_internal() -> None:
    async def outage(_: Echo, __: Caller) -> None:
        raise ConnectionRefusedError("connection refused")

    async def bug(_: Echo, __: Caller) -> None:
        raise KeyError("oops")

    _, outcome = await answer(Endpoint("t", Echo, outage, PUBLIC), b'{"name": "x"}', 1024)
    assert outcome == "unavailable"
    reply, outcome = await answer(Endpoint("t", Echo, bug, PUBLIC), b'{"name": "x"}', 1024)
    assert outcome == "internal"
    assert "oops" not in reply.decode()  # internals stay in the log, not in the reply
