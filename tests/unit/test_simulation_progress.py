"""The live progress line of `baton simulate`: what it says, redrawn in place on a terminal,
printed now and then (never redrawn) into a log."""

from __future__ import annotations

import io

from tools.simulation.progress import Progress, ProgressLine, render


def _progress(seconds: float, not_started: int, texts: int) -> Progress:
    by_status = {"not_started": not_started, "needs_reply": 7, "closed": 2}
    return Progress(seconds=seconds, contacts=1000, by_status=by_status, texts_sent=texts,
                    replies=40, released=3)  # fmt: skip


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_counts_reached_contacts_and_the_send_rate() -> None:
    first, second = _progress(10, 600, 400), _progress(12, 400, 600)
    assert render(first, None) == (
        "   10s  initials 400/1,000 (40%)  needs reply 7  closed 2  texts 400  replies 40  released 3"
    )
    assert "texts 600 (100/s)" in render(second, first)
    assert "initials 600/1,000 (60%)" in render(second, first)


def test_a_terminal_gets_one_line_redrawn_in_place() -> None:
    out = Terminal()
    line = ProgressLine(out)
    line(_progress(1, 1000, 0))
    line(_progress(2, 990, 10))
    line.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.count("\n") == 1 and text.endswith("\n")


def test_a_log_gets_whole_lines_and_not_every_second() -> None:
    out = io.StringIO()
    line = ProgressLine(out, every_seconds_when_not_a_tty=3600)
    for second in range(5):
        line(_progress(second, 1000 - second, second))
    line.close()
    assert "\r" not in out.getvalue()
    assert out.getvalue().count("\n") == 1  # the first; the rest fall inside the hour


def test_a_logged_rate_covers_the_time_since_the_line_before() -> None:
    now = [0.0]
    out = io.StringIO()
    line = ProgressLine(out, every_seconds_when_not_a_tty=10, clock=lambda: now[0])
    for second, texts in ((0, 0), (1, 400), (10, 500)):  # the middle one is not printed
        now[0] = second
        line(_progress(second, 1000 - texts, texts))
    printed = out.getvalue().splitlines()
    assert len(printed) == 2
    assert "texts 500 (50/s)" in printed[-1]  # 500 texts over the 10 s since the first line
