"""`baton simulate` drives a campaign through `baton up` over NATS, as an outside harness would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.baton_up import baton_up, finished_report, start_simulation

pytestmark = pytest.mark.acceptance


def test_simulate_against_baton_up_reports_every_invariant_true(tmp_path: Path) -> None:
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        simulation = start_simulation(
            up, "--contacts", "200", "--texters", "3", "--batch-size", "50", "--send-rate", "100",
            "--reply-rate", "0.3", "--unresponsive", "0", "--release-after-minutes", "0",
            "--reassign-after-seconds", "1", "--time-limit-seconds", "90",
        )  # fmt: skip
        report = finished_report(simulation, timeout=120)
    messages = report["messages"]
    # Every text a texter sent, and one confirmation per contact who said STOP.
    assert messages["on_outbound"] == messages["sent"] + messages["opt_out_confirmations"]
    assert messages["sent"] >= 200
    assert messages["opt_out_confirmations"] == messages["stops"]
