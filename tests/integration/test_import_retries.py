"""`baton contacts import` sends a part again when the assigner's line was full (`overloaded`:
nothing of it was done), after the wait the answer names; a refusal that says something was
wrong with the part is not sent again. Over real NATS, with a responder on the import subject
that answers as the assigner's admission does."""

from __future__ import annotations

import time
from itertools import pairwise
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared.contract import catalogue as api
from shared.contract.envelope import encode_error, encode_ok
from shared.contract.errors import BatonError, bad_request
from shared.runtime.admission import RETRY_AFTER_MS, overloaded_reply
from shared.runtime.client import BatonClient
from tools.cli.contacts_import import _send

pytestmark = pytest.mark.integration

PART = {"import_id": "4f7c1d2e-0000-4000-8000-000000000001", "rows": 1, "first_row": 0,
        "step": "stage"}  # fmt: skip


async def answering(nc: NatsClient, answers: list[bytes]) -> list[float]:
    """Answer the import subject's requests with `answers`, in turn; when each arrived."""
    arrivals: list[float] = []

    async def answer(msg: Msg) -> None:
        arrivals.append(time.monotonic())
        await nc.publish(msg.reply, answers[len(arrivals) - 1])

    await nc.subscribe(api.CONTACTS_IMPORT.subject, cb=answer)
    await nc.flush()
    return arrivals


async def test_an_overloaded_answer_is_sent_again_after_the_wait_it_names(
    nc: NatsClient,
) -> None:
    staged: dict[str, Any] = {"imported": 0, "duplicates": 0, "rejected": [], "staged": 1}
    arrivals = await answering(nc, [overloaded_reply(), overloaded_reply(), encode_ok(staged)])
    result = await _send(BatonClient(nc, timeout=5), 1, PART, [], retry_seconds=30)
    assert result == staged
    assert len(arrivals) == 3
    assert all(later - earlier >= RETRY_AFTER_MS / 1000 * 0.99
               for earlier, later in pairwise(arrivals))  # fmt: skip


async def test_a_refusal_of_the_part_itself_is_not_sent_again(nc: NatsClient) -> None:
    arrivals = await answering(nc, [encode_error(bad_request("no", field="file.rows"))])
    with pytest.raises(BatonError) as refused:
        await _send(BatonClient(nc, timeout=5), 1, PART, [], retry_seconds=30)
    assert refused.value.code == "bad_request"
    assert len(arrivals) == 1
