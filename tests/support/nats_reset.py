"""Give each test an empty JetStream: delete every stream a previous test left."""

from __future__ import annotations

import nats


async def delete_all_streams(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            await js.delete_stream(info.config.name)
    finally:
        await nc.close()
