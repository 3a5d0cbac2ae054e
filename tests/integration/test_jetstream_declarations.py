from __future__ import annotations

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import ConsumerConfig, StorageType, StreamConfig

from services.inbound.consumer import INBOUND_SMS_CONSUMER
from shared.contract import catalogue as api
from shared.runtime.jetstream import ALL_STREAMS, ConfigDriftError, declare_all

pytestmark = pytest.mark.integration


async def test_declaring_creates_every_stream_and_is_idempotent(nc: NatsClient) -> None:
    js = nc.jetstream()
    await declare_all(js, ALL_STREAMS, (INBOUND_SMS_CONSUMER,))
    await declare_all(js, ALL_STREAMS, (INBOUND_SMS_CONSUMER,))
    names = {info.config.name for info in await js.streams_info()}
    assert names == {s.name for s in ALL_STREAMS}
    info = await js.stream_info("INBOUND")
    assert info.config.storage == StorageType.FILE
    consumer = await js.consumer_info("INBOUND", "inbound-sms")
    assert consumer.config.filter_subject == api.INBOUND_SMS.subject


async def test_a_stream_with_other_settings_is_reported_as_drift(nc: NatsClient) -> None:
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="EVENTS", subjects=[f"{api.EVENTS_ROOT}.>"], max_age=60))
    with pytest.raises(ConfigDriftError, match=r"stream EVENTS differs.*max_age"):
        await declare_all(js, ALL_STREAMS)


async def test_a_consumer_with_other_settings_is_reported_as_drift(nc: NatsClient) -> None:
    js = nc.jetstream()
    await declare_all(js, ALL_STREAMS)
    await js.add_consumer(
        "INBOUND",
        ConsumerConfig(
            durable_name="inbound-sms", filter_subject=f"{api.INBOUND_ROOT}.>", ack_wait=5
        ),
    )
    with pytest.raises(ConfigDriftError, match="consumer INBOUND/inbound-sms differs"):
        await declare_all(js, ALL_STREAMS, (INBOUND_SMS_CONSUMER,))
