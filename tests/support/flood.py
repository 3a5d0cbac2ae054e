"""A flood of requests from a process of its own, so that publishing them costs the service under
test (which runs in the test's process) nothing but what NATS delivers.

`python -m tests.support.flood '<json>'` with url, subject, payload, pad (spaces added to the
payload, still the same JSON), headers, count, deadline_ms (relative: each request's
`Baton-Deadline` is that long after the flood starts) and wait_s. It
prints `ready`, waits for a line on stdin, publishes, then prints one JSON line: the replies by
outcome (the first answer to each request; later copies counted as `copies`), how many came after their deadline, and how long publishing took.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import nats
from nats.aio.msg import Msg

from shared.runtime.deadlines import DEADLINE_HEADER, now_ms


async def flood(spec: dict[str, Any]) -> dict[str, Any]:
    nc = await nats.connect(spec["url"])
    outcomes: Counter[str] = Counter()
    answered: set[str] = set()
    late = 0
    deadline = 0

    async def on_reply(msg: Msg) -> None:
        nonlocal late
        # As a requester does: the first answer to a request counts, a copy is dropped (a
        # service sends again what it answered just before NATS cut its connection).
        if msg.subject in answered:
            outcomes["copies"] += 1
            return
        answered.add(msg.subject)
        if not msg.data and msg.headers and msg.headers.get("Status") == "503":
            # nats-server's "no responders": nobody subscribed (the service was cut off).
            outcomes["no_responders"] += 1
            return
        body = json.loads(msg.data)
        outcomes["ok" if body["ok"] else body["error"]["code"]] += 1
        late += now_ms() > deadline

    inbox = nc.new_inbox()
    await nc.subscribe(f"{inbox}.*", cb=on_reply, pending_msgs_limit=2 * spec["count"])
    await nc.flush()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    payload = spec["payload"].encode() + b" " * spec.get("pad", 0)
    deadline = now_ms() + spec["deadline_ms"]
    headers = {**spec["headers"], DEADLINE_HEADER: str(deadline)}
    began = time.perf_counter()
    for i in range(spec["count"]):
        await nc.publish(spec["subject"], payload, reply=f"{inbox}.{i}", headers=headers)
    await nc.flush()
    published_in = time.perf_counter() - began
    # Replies come until the deadline and a little after (work started before it); then stop.
    await asyncio.sleep(max(0.0, (deadline - now_ms()) / 1000) + spec["wait_s"])
    await nc.close()
    return {
        "deadline": deadline,
        "outcomes": dict(outcomes),
        "answered_late": late,
        "published_in": published_in,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(json.loads(sys.argv[1])))), flush=True)
