"""bench/blocking_nats.py outside gevent: plain threads share one connection on its loop thread,
get each reply, requests carry the connection's token, and a refusal arrives as the BatonError it
is."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bench.blocking_nats import BlockingNats
from shared.contract import catalogue as api
from shared.contract.errors import BatonError
from shared.contract.schemas.admin import CreateOrg
from shared.contract.schemas.system import StatusRequest
from shared.runtime.commands.credentials import OPERATOR, SignedAs
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import SIGNER, Baton

pytestmark = pytest.mark.integration


async def test_plain_threads_call_baton_through_one_connection(
    assigner: Baton, settings: CommonSettings
) -> None:
    def from_threads() -> tuple[list[Any], list[Any], list[str]]:
        operator = SignedAs(SIGNER, OPERATOR)
        connection = BlockingNats(settings.nats_url, timeout=10, credentials=operator)
        try:
            with ThreadPoolExecutor(4) as threads:
                replies = list(
                    threads.map(
                        lambda _: connection.call(api.STATUS["assigner"], StatusRequest()),
                        range(20),
                    )
                )
                orgs = list(threads.map(
                    lambda n: connection.call(api.ORG_CREATE, CreateOrg(name=f"Org {n}")), range(8)
                ))  # fmt: skip
            codes = []
            with pytest.raises(BatonError) as refused:
                connection.call(api.ORG_CREATE, CreateOrg(name=""))
            codes.append(refused.value.code)
            anonymous = connection.client.acting_as(None)
            with pytest.raises(BatonError) as refused:
                connection.run(anonymous.call_json(api.ORG_CREATE, {"name": "No token"}))
            codes.append(refused.value.code)
            return replies, orgs, codes
        finally:
            connection.close()

    replies, orgs, codes = await asyncio.to_thread(from_threads)
    assert len(replies) == 20 and {reply.service for reply in replies} == {"assigner"}
    assert len({org.org_id for org in orgs}) == 8
    assert codes == ["bad_request", "unauthenticated"]
