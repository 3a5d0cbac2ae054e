"""bench/blocking_nats.py outside gevent: plain threads share one connection on its loop thread,
get each reply, and a refusal arrives as the BatonError it is."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bench.blocking_nats import BlockingNats
from shared.errors import BatonError
from shared.settings import CommonSettings
from tests.support.baton_client import Baton

pytestmark = pytest.mark.integration


async def test_plain_threads_call_baton_through_one_connection(
    assigner: Baton, settings: CommonSettings
) -> None:
    def from_threads() -> tuple[list[Any], str]:
        connection = BlockingNats(settings.nats_url, timeout=10)
        try:
            with ThreadPoolExecutor(4) as threads:
                replies = list(
                    threads.map(lambda _: connection.call("baton.status.assigner"), range(20))
                )
            with pytest.raises(BatonError) as refused:
                connection.call("baton.admin.org.create", name="")
            return replies, refused.value.code
        finally:
            connection.close()

    replies, code = await asyncio.to_thread(from_threads)
    assert len(replies) == 20 and {reply["service"] for reply in replies} == {"assigner"}
    assert code == "bad_request"
