"""Postgres killed under sends (issue #15). Texters send initials flat out; once a share of them
has been answered, the postmaster is killed outright (SIGKILL: no shutdown, crash recovery at
the next start), kept down, and started again. The client does what docs/reliability.md says:
a send answered `unavailable` or `overloaded`, or not answered in time, might have been carried
out, so it is retried with its idempotency key until it gets a final answer.

What must hold, checked at the end and reported as `invariants`:
- every answer was ok, a refusal, `unavailable` or `overloaded`, never `internal`;
- every send told it succeeded, or that it might have, is in Postgres under its idempotency key
  exactly once, and on OUTBOUND exactly once (one subject per message, one message per subject);
- nothing else is: no text the client was refused is stored.

    python -m bench.postgres_killed --sends 20000

`tests/acceptance/test_postgres_killed_under_sends.py` runs the same harness with 2,000 sends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NatsClient
from nats.errors import TimeoutError as NatsTimeout

from bench.messaging import build
from bench.support import auth_headers, service, write_results
from shared.contract import catalogue as api
from shared.runtime.migrations import migrate_database
from tools.devservers.nats import LocalNats
from tools.devservers.postgres import LocalPostgres

# Answers after which the request may be retried with the same key: nothing refused for good.
MAYBE = frozenset({"unavailable", "overloaded", "timeout"})
REQUEST_TIMEOUT_SECONDS = 10.0
RETRY_PAUSE_SECONDS = 0.25
GIVE_UP_AFTER_SECONDS = 180.0


@dataclass
class Tally:
    answers: Counter[str] = field(default_factory=Counter)
    # idempotency key -> the final answer ("ok", or a refusal's code)
    final: dict[str, str] = field(default_factory=dict)
    # keys whose first answer was a maybe, and then: committed before all (`duplicate`) or not
    maybe_then: Counter[str] = field(default_factory=Counter)
    answered: int = 0


async def _send(nc: NatsClient, tally: Tally, headers: dict[str, str], conversation: int) -> None:
    key = str(uuid.uuid4())
    body = json.dumps({"conversation_id": conversation, "body": "Hi! Can we count on your vote?",
                       "idempotency_key": key}).encode()  # fmt: skip
    first = True
    give_up = time.monotonic() + GIVE_UP_AFTER_SECONDS
    while True:
        try:
            reply = await nc.request(api.SEND_INITIAL.subject, body, timeout=REQUEST_TIMEOUT_SECONDS,
                                     headers=headers)  # fmt: skip
            decoded = json.loads(reply.data)
            code = "ok" if decoded["ok"] else decoded["error"]["code"]
        except NatsTimeout:
            decoded, code = {}, "timeout"
        tally.answers[code] += 1
        if code not in MAYBE or time.monotonic() > give_up:
            break
        first = False
        await asyncio.sleep(RETRY_PAUSE_SECONDS)
    tally.final[key] = code
    tally.answered += 1
    if not first and code == "ok":
        tally.maybe_then["committed_before" if decoded["data"]["duplicate"] else "retried"] += 1


async def _kill_and_restart(
    postgres: LocalPostgres, tally: Tally, kill_at: int, down_seconds: float
) -> dict[str, float]:
    while tally.answered < kill_at:
        await asyncio.sleep(0.01)
    started = time.monotonic()
    assert postgres.pid is not None  # never os.kill(0): that is our own process group
    os.kill(postgres.pid, signal.SIGKILL)
    await asyncio.sleep(down_seconds)
    await asyncio.to_thread(postgres.start)  # clears the stale postmaster.pid, then recovers
    return {"killed_after_answers": tally.answered,
            "down_and_recovery_seconds": round(time.monotonic() - started, 2)}  # fmt: skip


async def _stored(url: str) -> tuple[Counter[str], list[int]]:
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 120
        while await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            assert time.monotonic() < deadline, "the outbox did not drain"
            await asyncio.sleep(0.2)
        rows = await conn.fetch(
            "SELECT id, idempotency_key FROM message WHERE direction = 'outbound'"
        )
    finally:
        await conn.close()
    return Counter(r["idempotency_key"] for r in rows), [r["id"] for r in rows]


async def run(
    sends: int, texters: int, kill_fraction: float = 0.3, down_seconds: float = 5.0
) -> dict[str, Any]:
    # Durable: with synchronous_commit off, a killed Postgres would lose commits it had answered.
    with tempfile.TemporaryDirectory(prefix="baton-pgkill-") as tmp:
        postgres = LocalPostgres(Path(tmp) / "postgres")
        nats_server = LocalNats(Path(tmp) / "nats", durable=False)
        await asyncio.to_thread(postgres.start)
        await asyncio.to_thread(nats_server.start)
        try:
            await migrate_database(postgres.url)
            _, held, _ = await build(postgres.url, sends, texters)
            with service("sender", postgres.url, nats_server.url, outbox_poll_seconds="0.2",
                         outbox_lease_seconds="5"):  # fmt: skip
                return await _storm(postgres, nats_server.url, held, kill_fraction, down_seconds)
        finally:
            await asyncio.to_thread(nats_server.stop)
            await asyncio.to_thread(postgres.stop)


async def _storm(
    postgres: LocalPostgres, nats_url: str, held: dict[int, list[int]], kill_fraction: float,
    down_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    nc = await nats.connect(nats_url)
    tally = Tally()
    sends = sum(len(c) for c in held.values())
    try:
        killer = asyncio.create_task(
            _kill_and_restart(postgres, tally, int(sends * kill_fraction), down_seconds)
        )

        async def texter(user: int, conversations: list[int]) -> None:
            headers = auth_headers(user)
            for conversation in conversations:
                await _send(nc, tally, headers, conversation)

        started = time.monotonic()
        await asyncio.gather(*(texter(u, c) for u, c in held.items()))
        seconds = time.monotonic() - started
        kill = await killer
        by_key, message_ids = await _stored(postgres.url)
        on_stream = (await nc.jetstream().stream_info("OUTBOUND", subjects_filter=">")).state
        subjects = on_stream.subjects or {}
    finally:
        await nc.close()
    told_ok = {key for key, code in tally.final.items() if code == "ok"}
    # Still a maybe when the client gave up: stored once or not at all, never twice.
    still_maybe = {key for key, code in tally.final.items() if code in MAYBE}
    refused = set(tally.final) - told_ok - still_maybe
    expected_subjects = {api.OUTBOUND_SMS.at(str(m)) for m in message_ids}
    invariants = {
        "never_internal": tally.answers["internal"] == 0,
        "only_ok_refusals_or_unavailable": set(tally.answers) <= {"ok", *MAYBE, "opted_out",
                                                                  "outside_texting_hours"},
        "told_ok_stored_once": all(by_key[k] == 1 for k in told_ok),
        "maybe_stored_at_most_once": all(by_key[k] <= 1 for k in still_maybe),
        "refused_not_stored": not any(by_key[k] for k in refused),
        "nothing_else_stored": set(by_key) <= set(tally.final),
        "on_outbound_once": (set(subjects) == expected_subjects
                             and all(n == 1 for n in subjects.values())
                             and on_stream.messages == len(message_ids)),
        "every_send_answered_for_good": not any(c in MAYBE for c in tally.final.values()),
    }  # fmt: skip
    return {
        "sends": sends,
        "texters": len(held),
        "seconds": round(seconds, 2),
        "answers": dict(tally.answers),
        "final": dict(Counter(tally.final.values())),
        "maybe_then": dict(tally.maybe_then),
        "stored": len(message_ids),
        "on_outbound": on_stream.messages,
        **kill,
        "invariants": invariants,
    }


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sends", type=int, default=20_000)
    parser.add_argument("--texters", type=int, default=200)
    parser.add_argument("--down-seconds", type=float, default=5.0)
    return parser.parse_args()


def main() -> None:
    args = parse()
    report = asyncio.run(run(args.sends, args.texters, down_seconds=args.down_seconds))
    print(json.dumps(report, indent=2), flush=True)
    print(f"wrote {write_results('postgres_killed', report)}")
    if not all(report["invariants"].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
