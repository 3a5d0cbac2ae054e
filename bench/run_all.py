"""Run every benchmark in turn, then gather their figures into bench/results/latest.json and a
markdown table, and print it. Each benchmark starts its own servers; nothing else should run.

    python bench/run_all.py            # the sizes the issues ask for (about half an hour here)
    python bench/run_all.py --quick    # small sizes, a couple of minutes, to check it all works
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FULL = {
    "claims": ["--sizes", "100000,1000000,10000000", "--floor-baseline"],
    "reassign": ["--size", "1000000"],
    "messaging": ["--messages", "20000"],
    "reaper": ["--small", "100000", "--large", "10000000", "--stale", "100000"],
    "contacts_import": ["--rows", "1000000"],
    "pool_floor_trigger": ["--rounds", "10"],
    "auth_cost": ["--rounds", "10"],
    "postgres_killed": ["--sends", "20000"],
    "exports": ["--rows", "1000000", "--small", "100000"],
    "campaign_pick": ["--size", "100000"],
}
QUICK = {
    "claims": ["--sizes", "20000,100000", "--baseline-seconds", "3"],
    "reassign": ["--size", "50000"],
    "messaging": ["--messages", "2000"],
    "reaper": ["--small", "10000", "--large", "100000", "--stale", "1000"],
    "contacts_import": ["--rows", "50000"],
    "pool_floor_trigger": ["--rounds", "2"],
    "auth_cost": ["--rounds", "2", "--claims", "20", "--requests", "50"],
    "postgres_killed": ["--sends", "2000", "--texters", "50"],
    "exports": ["--rows", "50000", "--small", "10000"],
    "campaign_pick": ["--size", "20000", "--rounds", "1"],
}


def table(results: dict[str, Any]) -> str:
    rows = ["| benchmark | figure | value |", "|---|---|---:|"]
    for run in results.get("claims", {}).get("runs", []):
        size, plain, baton = run["size"], run["plain_claim"], run["baton"]
        rows.append(
            f"| claims {size:,} | plain claim claims/s (p99 ms) | {plain['claims_per_s']} ({plain['p99_ms']}) |"
        )
        rows.append(
            f"| claims {size:,} | Baton claims/s, rows/s (p50/p99 ms) | {baton['claims_per_s']}, "
            f"{baton['rows_per_s']:,} ({baton['p50_ms']}/{baton['p99_ms']}) |"
        )
        rows.append(f"| claims {size:,} | Baton / plain throughput | {run['throughput_ratio']}x |")
        if "tail" in baton:
            tail = baton["tail"]
            rows.append(
                f"| claims {size:,} | end of drain (last 2%) p50/max ms | {tail['p50_ms']}/{tail['max_ms']} |"
            )
        if "baton_without_pool_floor" in run:
            tail = run["baton_without_pool_floor"]["tail"]
            rows.append(
                f"| claims {size:,} | the same without the pool floor | {tail['p50_ms']}/{tail['max_ms']}"
                f" ({run['tail_max_ratio_without_floor']}x) |"
            )
    if "reassign" in results:
        r = results["reassign"]
        rows.append(
            f"| reassign {r['moved']:,} to 100 texters | seconds (rows/s) | {r['seconds']} ({r['rows_per_s']:,}) |"
        )
        rows.append(
            f"| reassign | self-assign p99 meanwhile (ms) | {r['self_assign_meanwhile']['p99_ms']} |"
        )
    if "messaging" in results:
        m = results["messaging"]
        rows.append(
            f"| initials, 200 texters | messages/s end to end (request p99 ms) | "
            f"{m['initials']['messages_per_s']} ({m['initials']['request']['p99_ms']}) |"
        )
        rows.append(
            f"| replies | replies/s (lag p99 ms) | {m['replies']['replies_per_s']} ({m['replies']['lag_p99_ms']}) |"
        )
        if "replies_drain" in m:
            rows.append(
                f"| replies, published first | replies/s ingested | {m['replies_drain']['replies_per_s']} |"
            )
    if "reaper" in results:
        r = results["reaper"]
        rows.append(
            f"| reaper | one pass releasing {r['released']:,} (s) | {r['release_pass_seconds']} |"
        )
        rows.append(
            f"| reaper | idle pass ms, small vs large | {r['idle_pass_ms_at_small']} vs {r['idle_pass_ms_at_large']} |"
        )
    if "exports" in results:
        for size in ("small", "large"):
            e = results["exports"][size]
            rows.append(
                f"| exports {e['rows']:,} messages | rows/s (peak memory above baseline, MiB) "
                f"| {e['rows_per_s']:,} ({e['peak_rss_above_baseline_mib']}) |"
            )
    if "campaign_pick" in results:
        p = results["campaign_pick"]
        rows.append(
            f"| campaign-less claims | claims/s beside named (p99 ms) | "
            f"{p['campaign_less_claims_per_s']} vs {p['named_claims_per_s']} "
            f"({p['campaign_less_p99_ms']} vs {p['named_p99_ms']}): {p['ratio']}x |"
        )
    if "contacts_import" in results:
        c = results["contacts_import"]
        rows.append(
            f"| contacts import, {c['rows']:,}-row CSV | rows/s (seconds) | {c['rows_per_s']:,} ({c['seconds']}) |"
        )
    if "postgres_killed" in results:
        k = results["postgres_killed"]
        held = "every invariant held" if all(k["invariants"].values()) else "INVARIANT BROKEN"
        rows.append(
            f"| Postgres killed under {k['sends']:,} sends | answers ok / unavailable, stored, on "
            f"OUTBOUND | {k['answers'].get('ok', 0):,} / {k['answers'].get('unavailable', 0):,}, "
            f"{k['stored']:,}, {k['on_outbound']:,} ({held}) |"
        )
    for shape, f in results.get("pool_floor_trigger", {}).items():
        rows.append(
            f"| pool-floor trigger, {shape} | ms with / without (ratio) | "
            f"{f['ms_with_trigger']} / {f['ms_without']} ({f['ratio']}x) |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="run only these benchmarks")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    for name, options in plan.items():
        if args.only and name not in args.only:
            continue
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, "-m", f"bench.{name}", *options], cwd=ROOT, check=True)
    results = {}
    for name in plan:
        path = RESULTS / f"{name}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())["figures"]
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = table(results)
    (RESULTS / "latest.md").write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
