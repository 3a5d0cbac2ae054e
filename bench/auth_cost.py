"""What verifying the bearer token (shared/runtime/tokens.py) costs each request, as a share of a
claim.

Measured in one process, in alternating rounds so neither side always runs on a warmer machine:
1. `TokenVerifier.verify` on valid, unexpired tokens (a different one each call), built from the
   same settings the services read: an HS256 secret (local use, tests), an Ed25519 public key
   (EdDSA, production) and a 2048-bit RSA public key (RS256, for reference). Per call, in µs.
2. the claim the assigner runs (`claim_initials`, services/assigner/claims.sql) taking 300 rows,
   one statement on one connection (its own transaction, commit included, fsync on), in ms.
3. unless `--requests 0`, whole `baton.assign.request` round trips through a running assigner,
   one assigner per algorithm, each request from a texter who holds nothing: the assigner cannot
   skip verification, so this shows the verify cost against the full request, not an on/off.

    python -m bench.auth_cost --rounds 10 --verifies 2000 --claims 100 --requests 300
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import nats
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.support import (
    latency_summary,
    percentile,
    self_assign_campaign,
    servers,
    service,
    write_results,
)
from services.assigner import claims_queries as claims
from shared.contract import catalogue as api
from shared.runtime.migrations import migrate_database
from shared.runtime.settings import CommonSettings
from shared.runtime.tokens import (
    AUTHORIZATION_HEADER,
    BEARER,
    TokenSigner,
    TokenVerifier,
    verifier_from_settings,
)

BATCH = 300
ALGORITHMS = ("HS256", "EdDSA", "RS256")
TARGET_SHARE = 0.05


@dataclass(frozen=True)
class Keys:
    algorithm: str
    signer: TokenSigner
    verifier: TokenVerifier
    # The BATON_* settings that make a service verify this algorithm's tokens.
    settings: dict[str, str]


def make_keys(algorithm: str, directory: Path) -> Keys:
    """A signer, and the verifier a service builds from its settings (verifier_from_settings)."""
    if algorithm == "HS256":
        secret = uuid.uuid4().hex + uuid.uuid4().hex  # 64 bytes
        settings = {"auth_secret": secret}
        signer = TokenSigner.from_secret(secret)
    else:
        private: Any = (
            Ed25519PrivateKey.generate()
            if algorithm == "EdDSA"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        path = directory / f"{algorithm}.pub.pem"
        path.write_bytes(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        settings = {"auth_public_keys": str(path)}
        signer = TokenSigner(private, algorithm)
    verifier = verifier_from_settings(CommonSettings(**settings))  # type: ignore[arg-type]
    return Keys(algorithm, signer, verifier, settings)


def headers_for(keys: Keys, subjects: list[int]) -> list[str]:
    return [BEARER + keys.signer.mint(subject) for subject in subjects]


def time_verifies(verifier: TokenVerifier, headers: list[str], count: int) -> list[float]:
    """Seconds per `verify`, each on the next of `headers` (all valid)."""
    clock = time.perf_counter_ns
    timings = []
    for i in range(count):
        header = headers[i % len(headers)]
        started = clock()
        identity = verifier.verify(header)
        timings.append((clock() - started) / 1e9)
        assert identity.user_id is not None
    return timings


async def build_campaign(
    conn: asyncpg.Connection, size: int, texters: int
) -> tuple[int, list[int]]:
    """An active self-assign campaign of `size` Unassigned conversations and `texters` texters."""
    return await self_assign_campaign(conn, "auth cost", size, texters, BATCH)


class Claimer:
    """Runs `claim_initials` as the assigner does: 300 rows from the claim cursor on."""

    def __init__(self, conn: asyncpg.Connection, campaign: int, texters: list[int]) -> None:
        self._conn = conn
        self._campaign = campaign
        self._texters = iter(texters)
        self._after = 0
        self._groups: list[int] = []

    async def claim(self) -> float:
        if not self._groups:
            self._groups = [r["zone_group"] for r in await self._conn.fetch(
                "SELECT zone_group FROM campaign_zone_group WHERE campaign_id = $1",
                self._campaign,
            )]  # fmt: skip
            assert len(self._groups) == 1, "the benchmark's contacts share one zone group"
        started = time.perf_counter()
        # A batch of one claim: every row to slot 1, the texter's.
        rows = await claims.claim_initials(
            self._conn,
            campaign_id=self._campaign,
            texter_ids=[next(self._texters)],
            size=BATCH,
            zone_groups=self._groups,
            after_ids=[self._after],
            operations=[uuid.uuid4()],
            reasons=["self_assign"],
            slots=[1] * BATCH,
        )
        elapsed = time.perf_counter() - started
        assert len(rows) == BATCH, f"claimed {len(rows)} rows"
        self._after = rows[-1].id
        return elapsed


async def in_process(url: str, all_keys: list[Keys], args: argparse.Namespace) -> dict[str, Any]:
    """Verifies and claims in alternating rounds on one connection, in this process."""
    warmup = 20
    total_claims = args.rounds * args.claims + warmup
    conn = await asyncpg.connect(url)
    try:
        campaign, texters = await build_campaign(conn, total_claims * BATCH, total_claims)
        claimer = Claimer(conn, campaign, texters)
        headers = {k.algorithm: headers_for(k, list(range(1, args.tokens + 1))) for k in all_keys}
        for keys in all_keys:
            time_verifies(keys.verifier, headers[keys.algorithm], warmup)
        for _ in range(warmup):
            await claimer.claim()
        verifies: dict[str, list[float]] = {k.algorithm: [] for k in all_keys}
        claims: list[float] = []
        for round_number in range(args.rounds):
            # Rotate which algorithm goes first each round.
            first = round_number % len(all_keys)
            order = all_keys[first:] + all_keys[:first]
            for keys in order:
                verifies[keys.algorithm] += time_verifies(
                    keys.verifier, headers[keys.algorithm], args.verifies
                )
            for _ in range(args.claims):
                claims.append(await claimer.claim())
    finally:
        await conn.close()
    claim_p50 = statistics.median(claims)
    return {
        "claim_300_rows": {
            "claims": len(claims),
            **latency_summary(claims),
            "mean_ms": round(statistics.fmean(claims) * 1000, 3),
        },
        "verify": {
            algorithm: {
                "verifies": len(timings),
                "p50_us": round(statistics.median(timings) * 1e6, 1),
                "p99_us": round(percentile(timings, 0.99) * 1e6, 1),
                "mean_us": round(statistics.fmean(timings) * 1e6, 1),
                "share_of_claim_p50_pct": round(statistics.median(timings) / claim_p50 * 100, 2),
                "p99_share_of_claim_p50_pct": round(percentile(timings, 0.99) / claim_p50 * 100, 2),
            }
            for algorithm, timings in verifies.items()
        },
    }


async def round_trips(
    nats_url: str, campaign: int, headers: list[str], warmup: int
) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    body = msgspec.json.encode({"campaign_id": campaign})
    latencies = []
    try:
        for i, header in enumerate(headers):
            started = time.perf_counter()
            reply = await nc.request(
                api.ASSIGN_REQUEST.subject, body, timeout=60, headers={AUTHORIZATION_HEADER: header}
            )
            elapsed = time.perf_counter() - started
            answer = msgspec.json.decode(reply.data)
            assert answer["ok"] and answer["data"]["count"] == BATCH, answer
            if i >= warmup:
                latencies.append(elapsed)
    finally:
        await nc.close()
    return {"requests": len(latencies), **latency_summary(latencies)}


def through_assigner(
    url: str, nats_url: str, keys: Keys, campaign: int, texters: list[int]
) -> dict[str, Any]:
    headers = headers_for(keys, texters)  # minted before, so signing is not timed
    # Error level: the assigner's warning that NATS went away as it stops is expected here.
    with service("assigner", url, nats_url, log_level="error", **keys.settings):
        return asyncio.run(round_trips(nats_url, campaign, headers, warmup=10))


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="baton-bench-keys-") as key_dir:
        all_keys = [make_keys(algorithm, Path(key_dir)) for algorithm in ALGORITHMS]
        with servers() as found:
            url = found.database_url.rsplit("/", 1)[0] + "/postgres"
            await migrate_database(url)
            figures = await in_process(url, all_keys, args)
            if args.requests:
                trips: dict[str, Any] = {}
                for keys in all_keys:
                    conn = await asyncpg.connect(url)
                    try:
                        count = args.requests + 10
                        campaign, texters = await build_campaign(conn, count * BATCH, count)
                    finally:
                        await conn.close()
                    trips[keys.algorithm] = await asyncio.to_thread(
                        through_assigner, url, found.nats_url, keys, campaign, texters
                    )
                    verify_s = figures["verify"][keys.algorithm]["p50_us"] / 1e6
                    trip_s = trips[keys.algorithm]["p50_ms"] / 1000
                    trips[keys.algorithm]["verify_share_pct"] = round(verify_s / trip_s * 100, 2)
                figures["assign_request_round_trip"] = trips
    figures["settings"] = vars(args)
    report(figures)
    print(f"wrote {write_results('auth_cost', figures)}")


def report(figures: dict[str, Any]) -> None:
    claim = figures["claim_300_rows"]
    print(f"claim_initials, 300 rows: p50 {claim['p50_ms']} ms, p99 {claim['p99_ms']} ms"
          f" ({claim['claims']} claims)")  # fmt: skip
    print()
    print("| algorithm | verify µs p50 / p99 | share of a 300-row claim (p50 / p99 verify) |")
    print("|---|---:|---:|")
    for algorithm, v in figures["verify"].items():
        share = v["share_of_claim_p50_pct"]
        mark = "under" if share < TARGET_SHARE * 100 else "OVER"
        print(f"| {algorithm} | {v['p50_us']} / {v['p99_us']} | {share}% / "
              f"{v['p99_share_of_claim_p50_pct']}% ({mark} {TARGET_SHARE:.0%}) |")  # fmt: skip
    trips = figures.get("assign_request_round_trip")
    if trips:
        print()
        print("| assigner verifying | baton.assign.request p50 / p99 ms | verify p50 share |")
        print("|---|---:|---:|")
        for algorithm, t in trips.items():
            print(f"| {algorithm} | {t['p50_ms']} / {t['p99_ms']} | {t['verify_share_pct']}% |")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--verifies", type=int, default=2000, help="per round and algorithm")
    parser.add_argument("--tokens", type=int, default=1000, help="distinct tokens per algorithm")
    parser.add_argument("--claims", type=int, default=100, help="300-row claims per round")
    parser.add_argument("--requests", type=int, default=300,
                        help="round trips per algorithm through an assigner; 0 skips them")  # fmt: skip
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
