"""What every benchmark needs: its own real servers, a service subprocess, figures and JSON.

Every service a benchmark starts verifies tokens with this process's own secret; `SIGNER` mints
them, so each simulated texter's requests carry that texter's token, as in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.runtime.tokens import TokenSigner
from tools.cli.supervisor import service_ready
from tools.devservers.nats import LocalNats
from tools.devservers.ports import free_port
from tools.devservers.postgres import LocalPostgres

RESULTS = Path(__file__).resolve().parent / "results"
# Fresh for every run: nothing outside this process can call the services it starts.
AUTH_SECRET = secrets.token_urlsafe(48)
SIGNER = TokenSigner.from_secret(AUTH_SECRET)
# Long enough for the longest benchmark, so a token minted before the clock starts never expires.
TOKEN_TTL_SECONDS = 6 * 3600


def auth_headers(user_id: int) -> dict[str, str]:
    """The NATS headers of a request from `user_id`."""
    return SIGNER.header(user_id, ttl_seconds=TOKEN_TTL_SECONDS)


@dataclass(frozen=True)
class Servers:
    database_url: str
    nats_url: str


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """Durable Postgres and NATS of our own, as `baton up` runs them (fsync on)."""
    with tempfile.TemporaryDirectory(
        prefix="baton-bench-", dir=os.environ.get("BATON_BENCH_DIR")
    ) as tmp:
        postgres = LocalPostgres(Path(tmp) / "postgres")
        nats = LocalNats(Path(tmp) / "nats")
        postgres.start()
        try:
            nats.start()
            try:
                yield Servers(postgres.url, nats.url)
            finally:
                nats.stop()
        finally:
            postgres.stop()


@contextlib.contextmanager
def service(
    name: str, database_url: str, nats_url: str, **settings: str
) -> Iterator[subprocess.Popen[bytes]]:
    """One Baton service as a separate process, as in production; waits until it is ready."""
    port = free_port()
    # The machine's own BATON_AUTH_* (an issuer, other keys) would refuse the tokens minted here.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("BATON_AUTH_")}
    env = dict(inherited, BATON_DATABASE_URL=database_url, BATON_NATS_URL=nats_url,
               BATON_METRICS_PORT=str(port), BATON_METRICS_HOST="127.0.0.1",
               BATON_LOG_LEVEL="warning")  # fmt: skip
    if not any(key.startswith("auth_") for key in settings):
        env["BATON_AUTH_SECRET"] = AUTH_SECRET  # unless the benchmark chose the keys itself
    env.update({f"BATON_{k.upper()}": v for k, v in settings.items()})
    process = subprocess.Popen([sys.executable, "-m", "services", name], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if service_ready(port):
                break
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")
            time.sleep(0.2)
        else:
            raise TimeoutError(f"{name} was not ready within 60 s")
        yield process
    finally:
        process.terminate()
        process.wait(60)


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far: on a shared machine, what a
    process costs per unit of work is steadier than its rate, which the other work on the cores
    sets as much as the process does."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime, the 14th and 15th fields of proc(5), in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(fraction * 1000) - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 2),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 2),
        "max_ms": round(max(seconds) * 1000, 2) if seconds else float("nan"),
    }


def write_results(name: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "figures": figures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


async def add_texters(conn: Any, org: int, campaign: int, count: int) -> list[int]:
    """`count` new users, texters of `org` and on `campaign`; their ids."""
    users = [r["id"] for r in await conn.fetch(
        "INSERT INTO app_user (name) SELECT 't' || g FROM generate_series(1, $1) g RETURNING id",
        count,
    )]  # fmt: skip
    await conn.execute(
        """INSERT INTO organization_member (org_id, user_id, role)
           SELECT $1, u, 'texter' FROM unnest($2::bigint[]) u""",
        org, users,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO campaign_texter (campaign_id, user_id)"
        " SELECT $1, u FROM unnest($2::bigint[]) u",
        campaign, users,
    )  # fmt: skip
    return users


async def self_assign_campaign(
    conn: Any, title: str, size: int, texters: int, batch_size: int
) -> tuple[int, list[int]]:
    """An active self-assign campaign of `size` Unassigned conversations and `texters` texters,
    analysed, as the claim benchmarks drain it."""
    org = await conn.fetchval("INSERT INTO organization (name) VALUES ('bench') RETURNING id")
    # Texting hours all day: the claim is measured whatever the hour the benchmark runs at.
    campaign = await conn.fetchval(
        """INSERT INTO campaign (org_id, title, batch_size, status, self_assign,
                                 texting_hours_start, texting_hours_end)
           VALUES ($1, $2, $3, 'active', true, 0, 24) RETURNING id""",
        org, title, batch_size,
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO contact (campaign_id, phone)
           SELECT $1, '+1' || (2000000000 + $1::bigint * 100000000 + g)::text
           FROM generate_series(1, $2) g""",
        campaign, size,
    )  # fmt: skip
    await conn.execute(
        """INSERT INTO conversation (campaign_id, contact_id)
           SELECT campaign_id, id FROM contact WHERE campaign_id = $1 ORDER BY id""",
        campaign,
    )
    users = await add_texters(conn, org, campaign, texters)
    await conn.execute("VACUUM ANALYZE")
    return campaign, users
