"""Crash points: refused when misspelt, silent when unarmed, and a real SIGKILL, once per
directory, when armed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shared.runtime.failpoints import parse_points
from shared.runtime.settings import CommonSettings, SettingsError, load_settings

REACH = (
    "from shared.runtime import failpoints\n"
    "failpoints.arm('sender', 'outbox:after_lease', {once_dir!r})\n"
    "failpoints.reached('inbound-sms:before_ack')\n"
    "failpoints.reached('outbox:after_lease')\n"
    "print('carried on')\n"
)


def _reach(once_dir: Path) -> subprocess.CompletedProcess[str]:
    code = REACH.format(once_dir=str(once_dir))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)


def test_a_misspelt_point_stops_the_service_at_start() -> None:
    with pytest.raises(SettingsError, match="unknown crash points: outbox:after_leas"):
        load_settings(CommonSettings, {"BATON_CRASH_POINTS": "outbox:after_leas"})
    assert parse_points(" outbox:after_lease, ,reaper:after_commit ") == {
        "outbox:after_lease",
        "reaper:after_commit",
    }
    assert parse_points("") == frozenset()


def test_an_armed_point_kills_the_process_once_per_directory(tmp_path: Path) -> None:
    first = _reach(tmp_path)
    assert first.returncode == -signal.SIGKILL
    assert "carried on" not in first.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["sender.outbox.after_lease"]
    second = _reach(tmp_path)  # the restarted process goes past the point that already fired
    assert second.returncode == 0, second.stderr
    assert "carried on" in second.stdout
