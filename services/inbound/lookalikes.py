"""Look-alike letters folded to the letters they look like, for reading opt-outs (issue #30).

The FCC's rule is that a revocation by any reasonable means is honoured: a contact who types a
STOP that looks like STOP (`ST0P` with a zero, `STOP` in Cyrillic letters, or with a Greek
capital omicron) has asked to stop.
Two foldings, both used only to find an opt-out (services/inbound/opt_out.py `classify`), never
to store or show a message, and never to opt anyone back in:

- Every character outside ASCII becomes its Unicode confusables skeleton (UTS #39, the data of
  the `disarm` package, `disarm.CONFUSABLES_VERSION`) when that skeleton is plain ASCII letters:
  Cyrillic te is `t`, Greek omicron is `o`, mathematical bold S is `s`. ASCII is left alone, so
  the skeleton's own ASCII folds (`m` as `rn`, `l` as `I`) cannot turn ordinary words into others,
  and a character with no Latin look-alike (Chinese, Arabic, an accented letter) stays as it is.
- Full-width and mathematical digits are the digits they look like; a character whose skeleton is
  `l` (UTS #39 gives capital I and small l the one skeleton) is read as the digit 1 is.
- Inside a word of letters and digits, the digits people type for letters (0 for O, 1 for I or L,
  3 for E, 5 for S) are read as those letters, but only where the word then spells a word of an
  opt-out keyword (`ST0P`, `QU1T`, `UN5UBSCRIBE`, `3ND`): a number alone, or `1st`, stays.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable

import disarm

# The digits read as letters, with every letter each may stand for.
DIGIT_LETTERS: dict[str, tuple[str, ...]] = {"0": ("o",), "1": ("i", "l"), "3": ("e",), "5": ("s",)}
# A word with some of those digits, at most this many (each 1 doubles the readings tried).
_MAX_DIGITS = 6
# A word of letters and digits. Matched whole and checked for digits after: a pattern that looks
# for the digit inside the word backtracks quadratically on a long run of letters (2 s for one
# 10,000-letter text, holding up every STOP behind it; found by the outside review).
_WORD = re.compile(r"[^\W_]+")
# Far longer than any word of an opt-out keyword (`unsubscribe`, 11), even with letters repeated
# (`stooooop` is read as stop); a longer word is read as it is.
_LONGEST_WORD = 64


@functools.lru_cache(maxsize=4096)
def _letter_for(char: str) -> str:
    digit = unicodedata.normalize("NFKC", char)
    if digit in DIGIT_LETTERS:
        return digit  # a full-width or mathematical 0, 1, 3 or 5: read as the digit is
    skeleton = disarm.skeleton_key(char)
    if skeleton == "l":
        # UTS #39 gives capital I and small l one skeleton, `l`: a Cyrillic or Greek capital I
        # (QUIT with U+0406) is `l` there. Read such a character as the digit 1 is read, I or L,
        # whichever spells a keyword word (found by the outside review).
        return "1"
    return skeleton if skeleton and skeleton.isascii() and skeleton.isalpha() else char


def fold(body: str, is_keyword_word: Callable[[str], bool]) -> str:
    """`body` with look-alikes read as letters (see the module); `is_keyword_word`: whether a
    lower-case word a digit-for-letter reading gives is a word of an opt-out keyword."""
    letters = "".join(char if char.isascii() else _letter_for(char) for char in body)
    return _WORD.sub(lambda found: _read_digits(found.group(), is_keyword_word), letters)


def _read_digits(word: str, is_keyword_word: Callable[[str], bool]) -> str:
    if len(word) > _LONGEST_WORD:
        return word
    lower = word.lower()
    digits = sum(c in DIGIT_LETTERS for c in lower)
    if not digits or lower.isdigit() or digits > _MAX_DIGITS:
        return word
    return next((r for r in _readings(lower) if is_keyword_word(r)), word)


def _readings(word: str) -> Iterable[str]:
    choices = [DIGIT_LETTERS.get(char, (char,)) for char in word]
    return ("".join(combination) for combination in itertools.product(*choices))
