"""`baton simulate` drives a campaign through `baton up` over NATS, as an outside harness would."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.baton_up import baton_up

pytestmark = pytest.mark.acceptance


def test_simulate_against_baton_up_reports_every_invariant_true(tmp_path: Path) -> None:
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        nats_url = re.search(r"(nats://127\.0\.0\.1:\d+)", up.output())
        assert nats_url is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env["BATON_NATS_URL"] = nats_url.group(1)
        result = subprocess.run(
            [sys.executable, "-m", "shared.cli.main", "simulate", "--contacts", "200", "--texters", "3",
             "--batch-size", "50", "--send-rate", "100", "--reply-rate", "0.3", "--unresponsive", "0",
             "--release-after-minutes", "0", "--reassign-after-seconds", "1", "--time-limit-seconds", "90",
             "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["finished"] is True
    assert report["invariants"] and all(report["invariants"].values())
    assert report["messages"]["on_outbound"] == report["messages"]["sent"] >= 200
