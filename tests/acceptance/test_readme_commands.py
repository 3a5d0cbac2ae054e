"""The README's Commands section, run as a newcomer types it: every fenced line, in order, in a
fresh folder beside a `baton up` started there, with no `BATON_*` variable set and another NATS
listening on the default port 4222. The lines are read from README.md on every run, so a changed
README is what gets tested; a line that cannot run here is named below with its reason."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.baton_up import baton_up
from tools.devservers.nats import LocalNats

pytestmark = [pytest.mark.acceptance, pytest.mark.xdist_group("port-4222")]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NATS_PORT = 4222
# Lines not run, each by the start of its words, with the reason.
NOT_RUN = {
    ". .venv/bin/activate": "changes the reader's shell; the test puts .venv/bin on PATH itself",
    "baton up": "the test starts it, in the folder the commands run in",
    "baton service": "runs a service in the foreground until it is stopped",
    "baton simulate --contacts 100000": "minutes of load (tests/acceptance/test_simulate_cli.py)",
    "baton demo": "starts a Baton of its own for ~2 minutes (tests/integration/test_simulation.py)",
    "BATON_NATS_URL=": "Locust, for minutes (tests/acceptance/test_locustfile.py)",
    "make": "builds .venv and runs the suite this test is part of",
}

# What some lines must print, as their comments in the README say (by the start of their words).
PRINTS = {
    "baton --version": r"^baton \d+\.\d+\.\d+",
    "baton org create": r'"org_id": 1\b',
    "baton contacts import": r"(?m)^imported\s+3$.*^rejected\s+1$",
    "baton move 1 --to 2": r"(?m)^moved\s+1$",
    "baton move 2 --to 2": r"(?m)^moved\s+1$",
    "baton reassign 1 --from-texter 2 --to 3": r"(?m)^moved\s+2$",
    "baton move 2 --to none": r"(?m)^moved\s+1$",
    "baton reassign 1 --confirm": r"(?m)^moved\s+1$",
}


def readme_commands() -> list[list[str]]:
    """The Commands section's fenced lines as words, comments and blank lines left out."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [words for line in block.splitlines() if (words := shlex.split(line, comments=True))]


def _not_run(words: list[str]) -> str | None:
    line = shlex.join(words)
    return next((why for start, why in NOT_RUN.items() if line.startswith(start)), None)


@contextlib.contextmanager
def another_nats_on_4222(tmp_path: Path) -> Iterator[None]:
    """A NATS on the default port, serving no Baton, as on many developers' machines (and this
    one's): the commands must not talk to it."""
    with socket.socket() as probe:
        taken = probe.connect_ex(("127.0.0.1", DEFAULT_NATS_PORT)) == 0
    if taken:
        yield
        return
    other = LocalNats(tmp_path / "other-nats", DEFAULT_NATS_PORT)
    other.start()
    try:
        yield
    finally:
        other.stop()


def test_the_commands_section_has_lines_to_run_and_names_every_line_it_skips() -> None:
    commands = readme_commands()
    run = [words for words in commands if _not_run(words) is None]
    assert len(run) >= 15, commands
    assert all(words[0] == "baton" for words in run), run
    # Every entry still names a line: a stale one would hide the next line starting that way.
    for start in [*NOT_RUN, *PRINTS]:
        if start != "make":
            assert any(shlex.join(w).startswith(start) for w in commands), start


def test_every_command_of_the_readme_runs_as_written_beside_baton_up(tmp_path: Path) -> None:
    folder = tmp_path / "newcomer"
    folder.mkdir()
    shutil.copytree(ROOT / "examples", folder / "examples", ignore=shutil.ignore_patterns("node_*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with (
        another_nats_on_4222(tmp_path),
        baton_up(folder / ".baton", tmp_path / "up.log") as up,
    ):
        for words in readme_commands():
            if _not_run(words) is not None:
                continue
            done = subprocess.run(
                words, cwd=folder, env=env, capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, (
                f"$ {shlex.join(words)}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
                f"\n--- baton up ---\n{up.output()[-3000:]}"
            )
            assert "waiting for a Baton service" not in done.stderr, done.stderr
            line = shlex.join(words)
            for start, pattern in PRINTS.items():
                if line.startswith(start):
                    assert re.search(pattern, done.stdout, re.DOTALL), f"$ {line}\n{done.stdout}"
