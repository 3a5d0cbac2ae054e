"""One notion of "now" (issue #32): the code of shared/ and services/ asks a `Clock`
(shared/domain/clock.py) for the time, so a test can move it, and never reads the wall clock
itself. Elapsed time (`time.monotonic`, asyncio's loop time) is another matter and is not
checked here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THE_CLOCK = ROOT / "shared" / "domain" / "clock.py"
WALL_CLOCK_READ = re.compile(r"\b(?:datetime\.(?:now|utcnow|today)|time\.time|date\.today)\(")


def _reads(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if WALL_CLOCK_READ.search(line)]


def test_the_detector_finds_each_way_of_reading_the_wall_clock() -> None:
    for line in ("started = datetime.now(UTC)", "now = int(time.time())",
                 "x = datetime.utcnow()", "d = date.today()"):  # fmt: skip
        assert _reads(line) == [line], line
    assert _reads("elapsed = time.monotonic() - began\nnow = self._clock()") == []


def test_only_the_clock_reads_the_wall_clock() -> None:
    found = {
        str(path.relative_to(ROOT)): reads
        for folder in ("shared", "services")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != THE_CLOCK and (reads := _reads(path.read_text()))
    }
    assert found == {}, found
