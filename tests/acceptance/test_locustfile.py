"""bench/locustfile.py drives a running Baton over NATS with Locust's own runner: texters join,
send initials, answer replies and request batches, and no request fails."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.contract import catalogue as api
from tests.support.baton_up import baton_up, nats_url

pytestmark = pytest.mark.acceptance
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_locust_drives_baton_over_nats_without_a_failure(tmp_path: Path) -> None:
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        # Locust mints each texter's token with the secret this `baton up` made.
        env.update(up.auth_env(), BATON_NATS_URL=nats_url(up), BATON_LOCUST_CONTACTS="600",
                   BATON_LOCUST_BATCH_SIZE="20", BATON_LOCUST_REPLY_RATE="0.3")  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "locust", "-f", "bench/locustfile.py", "--headless",
             "--users", "8", "--spawn-rate", "8", "--run-time", "20s", "--only-summary",
             "--csv", str(tmp_path / "locust")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=150, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with (tmp_path / "locust_stats.csv").open() as stats_file:
        stats = {row["Name"]: row for row in csv.DictReader(stats_file)}
    assert int(stats[api.ASSIGN_JOIN.subject]["Request Count"]) == 8
    assert (
        int(stats[api.SEND_INITIAL.subject]["Request Count"]) >= 8 * 20
    )  # the first batches, at least
    assert int(stats[api.SEND_REPLY.subject]["Request Count"]) > 0  # the bridge's contacts replied
    assert int(stats[api.ASSIGN_REQUEST.subject]["Request Count"]) > 0
    assert all(int(row["Failure Count"]) == 0 for row in stats.values()), stats
