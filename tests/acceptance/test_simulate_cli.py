"""`baton simulate` drives a campaign through `baton up` over NATS, as an outside harness would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from tests.support.baton_up import baton_up, database_url, finished_report, start_simulation
from tools.cli.provider_simulator import PROVIDER_SIMULATORS

pytestmark = pytest.mark.acceptance


def test_simulate_twice_against_one_baton_up_reports_every_invariant_true(
    tmp_path: Path,
) -> None:
    """Issue #18: the second run used to fail falsely, counting the first run's texts on OUTBOUND
    and sharing its bridge's durable consumer. Each run now has its own number, consumer and
    count, and a Baton that carries other traffic does not fail it."""
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:
        reports = []
        for _ in range(2):
            simulation = start_simulation(
                up, "--contacts", "200", "--texters", "3", "--batch-size", "50",
                "--send-rate", "100", "--reply-rate", "0.3", "--unresponsive", "0",
                "--release-after-minutes", "0", "--reassign-after-seconds", "1",
                "--time-limit-seconds", "90",
            )  # fmt: skip
            reports.append(finished_report(simulation, timeout=120))
    for report in reports:
        messages = report["messages"]
        # Every text a texter sent, and one confirmation per contact who said STOP.
        assert messages["on_outbound"] == messages["sent"] + messages["opt_out_confirmations"]
        assert messages["sent"] >= 200
        assert messages["opt_out_confirmations"] == messages["stops"]


@pytest.mark.parametrize("simulator", PROVIDER_SIMULATORS)
def test_simulate_against_baton_up_with_a_provider_simulator_goes_through_the_real_bridge(
    tmp_path: Path, simulator: str
) -> None:
    """`baton up --provider twilio-simulator` or `telnyx-simulator` (issue #31): the simulation
    finds the simulator in the announcement, runs no bridge of its own, and each text reaches
    the provider once."""
    data = tmp_path / "data"
    with baton_up(data, tmp_path / "up.log", args=("--provider", simulator)) as up:
        assert f"{simulator} ready" in up.output()
        simulation = start_simulation(
            up, "--data-dir", str(data), "--contacts", "100", "--texters", "2",
            "--batch-size", "50", "--send-rate", "100", "--reply-rate", "0.3",
            "--unresponsive", "0", "--release-after-minutes", "0", "--time-limit-seconds", "90",
        )  # fmt: skip
        report = finished_report(simulation, timeout=120)
    assert "provider simulator" in report["bridge"]
    assert "every accepted text reached the provider exactly once" in report["invariants"]
    messages = report["messages"]
    assert messages["taken_by_provider"] == messages["sent"] + messages["opt_out_confirmations"]
    assert messages["replies"] >= 1


def test_a_refused_setup_is_said_in_one_line_with_exit_4(tmp_path: Path) -> None:
    """A Baton whose provider bridge has read its account takes only the numbers that account
    holds (issue #31), and the simulation's are not among them: the refusal is said as every
    command says one, not as a traceback."""
    with baton_up(tmp_path / "data", tmp_path / "up.log") as up:

        async def an_account_read_by_a_bridge() -> None:
            conn = await asyncpg.connect(database_url(up))
            try:
                await conn.execute(
                    "INSERT INTO bridge_account (provider, account) VALUES ('twilio', 'AC1')"
                )
            finally:
                await conn.close()

        asyncio.run(an_account_read_by_a_bridge())
        simulation = start_simulation(up, "--contacts", "20", "--texters", "2")
        out, err = simulation.communicate(timeout=120)
    assert simulation.returncode == 4, out + err
    assert "Traceback" not in err
    # After the line that says which bridge carries the texts (none here: its own).
    said = err.strip().splitlines()
    assert said[0].startswith("no provider bridge runs in this Baton"), err
    assert said[-1].startswith("baton simulate: bad_request:") and "not held" in err, err
