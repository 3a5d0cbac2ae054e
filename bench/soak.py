"""Soak: the simulated campaign (tools/simulation, `baton simulate`) long enough for a slowdown
to show (issue 29): 600,000 contacts and 300 texters for 7 minutes, against the four services
as separate processes on durable Postgres and NATS of their own.

Prints texts/s per minute of the run, the last minute's rate against the second's, Postgres's
mean active backends (pg_stat_activity sampled every second, this process's own sampler left
out) and each service's resident memory when it is ready, when texting starts (the run's first
second: `growth` is from there) and when it ends; writes
bench/results/soak.json (or `--name`).

    python -m bench.soak --contacts 600000 --texters 300 --minutes 7
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from pathlib import Path
from typing import Any

import asyncpg
import nats

from bench.support import SIGNER, servers, service, write_results
from shared.runtime.client import BatonClient
from shared.runtime.migrations import migrate_database
from tools.simulation.progress import Progress
from tools.simulation.run import simulate
from tools.simulation.scenario import Scenario

SERVICES = ("assigner", "sender", "inbound", "reaper")


def service_pids() -> dict[str, int]:
    """This process's service children (bench.support.service runs `python -m services NAME`)."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if parent == os.getpid() and b"services" in args:
                name = args[args.index(b"services") + 1].decode()
                if name in SERVICES:
                    found[name] = int(entry.name)
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def sample_active_backends(url: str, stop: asyncio.Event, samples: list[int]) -> None:
    conn = await asyncpg.connect(url)
    try:
        while not stop.is_set():
            samples.append(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"))  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await conn.close()


async def run(
    url: str, nats_url: str, scenario: Scenario, at_ready: dict[str, float]
) -> dict[str, Any]:
    pids = service_pids()
    assert set(pids) == set(SERVICES), pids
    progress: list[Progress] = []
    memory: dict[str, dict[str, float]] = {name: {"ready_mib": at_ready[name]} for name in SERVICES}
    by_minute: dict[str, list[float]] = {}

    def on_progress(now: Progress) -> None:
        progress.append(now)
        new_minute = len(progress) == 1 or int(now.seconds // 60) > int(progress[-2].seconds // 60)
        for name, pid in pids.items():
            with contextlib.suppress(OSError):
                rss = rss_mib(pid)
                memory[name].setdefault("start_mib", rss)
                memory[name]["end_mib"] = rss
                if new_minute:  # the series shows whether memory levels off or keeps growing
                    by_minute.setdefault(name, []).append(rss)
        if len(progress) % 30 == 0:
            print(f"  {now.seconds:.0f} s: {now.texts_sent:,} texts,"
                  f" needs reply {now.by_status.get('needs_reply', 0):,}", flush=True)  # fmt: skip

    stop = asyncio.Event()
    active: list[int] = []
    sampler = asyncio.create_task(sample_active_backends(url, stop, active))
    nc = await nats.connect(nats_url)
    try:
        report = await simulate(nc, BatonClient(nc), SIGNER, scenario, on_progress)
    finally:
        stop.set()
        await sampler
        await nc.close()
    per_minute = texts_per_minute(progress)
    for name in SERVICES:
        m = memory[name]
        m["growth"] = round(m["end_mib"] / m["start_mib"], 3) if m.get("start_mib") else 0.0
        m["growth_from_ready"] = round(m["end_mib"] / m["ready_mib"], 3)
        # From the end of the first minute, once pools, statement caches and buffers are warm.
        series = by_minute.get(name, [])
        m["growth_after_first_minute"] = (
            round(m["end_mib"] / series[1], 3) if len(series) > 1 else 0.0
        )
    return {
        "texts_per_s_by_minute": per_minute,
        "last_to_second_minute": round(per_minute[-1] / per_minute[1], 3)
        if len(per_minute) > 1 and per_minute[1]
        else None,
        "postgres_mean_active_backends": round(statistics.fmean(active), 2) if active else None,
        "rss": memory,
        "rss_mib_by_minute": by_minute,
        "messages": report.messages,
        "invariants": report.invariants,
        "finished": report.finished,
        "texts_sent": progress[-1].texts_sent if progress else 0,
        "needs_reply_at_end": progress[-1].by_status.get("needs_reply", 0) if progress else 0,
    }


def texts_per_minute(progress: list[Progress]) -> list[float]:
    """Texts/s over each whole minute of the run, from the progress samples."""
    rates = []
    minute = 1
    previous = (0.0, 0)
    for p in progress:
        if p.seconds >= minute * 60:
            rates.append(round((p.texts_sent - previous[1]) / (p.seconds - previous[0]), 1))
            previous = (p.seconds, p.texts_sent)
            minute += 1
    return rates


def main(args: argparse.Namespace) -> None:
    scenario = Scenario(contacts=args.contacts, texters=args.texters, send_rate=args.send_rate,
                        time_limit_seconds=args.minutes * 60)  # fmt: skip
    started = time.perf_counter()
    with servers() as found:
        url = found.database_url.rsplit("/", 1)[0] + "/postgres"
        asyncio.run(migrate_database(url))
        with contextlib.ExitStack() as stack:
            at_ready = {}
            for name in SERVICES:
                stack.enter_context(service(name, url, found.nats_url))
                at_ready[name] = rss_mib(service_pids()[name])
            figures = asyncio.run(run(url, found.nats_url, scenario, at_ready))
    figures["settings"] = vars(args)
    figures["wall_seconds"] = round(time.perf_counter() - started)
    print("texts/s by minute: " + ", ".join(f"{r:,.0f}" for r in figures["texts_per_s_by_minute"]))
    print(f"last minute / second minute: {figures['last_to_second_minute']}")
    print(f"Postgres mean active backends: {figures['postgres_mean_active_backends']}")
    for name, m in figures["rss"].items():
        print(f"{name} RSS: {m['ready_mib']} MiB when ready, {m.get('start_mib')} MiB at start,"
              f" {m.get('end_mib')} MiB at end ({m.get('growth')}x; {m.get('growth_from_ready')}x"
              f" from ready; {m.get('growth_after_first_minute')}x after the first"
              f" minute; by minute {figures['rss_mib_by_minute'].get(name)})")  # fmt: skip
    print(f"messages: {figures['messages']}")
    print(f"invariants: {figures['invariants']}; finished: {figures['finished']}")
    path = write_results(args.name, figures)
    print(f"wrote {path}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=600_000)
    parser.add_argument("--texters", type=int, default=300)
    parser.add_argument("--send-rate", type=float, default=5.0, help="texts/s per texter, at most")
    parser.add_argument("--minutes", type=float, default=7.0)
    parser.add_argument("--name", default="soak", help="the results file's name")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse())
