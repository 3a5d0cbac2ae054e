"""Opt-out words (pure logic): STOP and friends, case, spacing and punctuation ignored."""

from __future__ import annotations

import re

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
_NOT_LETTERS = re.compile(r"[^A-Z]")


def is_opt_out(body: str) -> bool:
    return _NOT_LETTERS.sub("", body.upper()) in OPT_OUT_WORDS
