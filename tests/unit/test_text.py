"""shared/domain/text.py: what is stored of a contact's message, and what its words are compared
in."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.text import for_matching, storable


@pytest.mark.parametrize(
    "text",
    [
        "Yes! Count me in \U0001f44d\U0001f3fd",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 family of three",  # joiners kept
        "\U0001f1fa\U0001f1f8 \u2764\ufe0f",  # flag, heart with variation selector
        "S\u00ed, ma\u00f1ana est\u00e1 bien",
        "cafe\u0301",  # decomposed accent: not normalised
        "\uff33\uff34\uff2f\uff30",  # full-width: not normalised
        "\u05e9\u05dc\u05d5\u05dd \u200f\u0645\u0631\u062d\u0628\u0627",  # RTL text and mark
        "line one\nline two\ttabbed",
        "\u00a0non-breaking\u2028line separator\u00ad",
        "\ufffd\uffff\U0010ffff\ue000",  # replacement, noncharacter, private use
        "",
    ],
)
def test_storable_keeps_what_postgres_can_store(text: str) -> None:
    assert storable(text) == text


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("STOP\x00", "STOP"),
        ("a\x00b", "ab"),
        ("bell\x07 escape\x1b[0m delete\x7f", "bell escape[0m delete"),
        ("c1\x80\x9b\x9f", "c1"),
        ("windows\r\nline", "windows\nline"),
        ("old mac\rline", "old mac\nline"),
        ("next\x85line", "next\nline"),
        ("\r\r\n\n", "\n\n\n"),
        ("vertical\x0btab\x0cform feed", "verticaltabform feed"),
    ],
)
def test_storable_drops_controls_and_unifies_line_breaks(text: str, stored: str) -> None:
    assert storable(text) == stored


def test_storable_joins_surrogate_pairs_and_drops_lone_surrogates() -> None:
    assert storable("\ud83d\ude00") == "\U0001f600"
    assert storable("a\ud800b") == "ab"
    assert storable("a\udc00b") == "ab"
    assert storable("\ude00\ud83d") == ""  # the wrong way round: two lone ones
    assert storable("\ud83d\ud83d\ude00x") == "\U0001f600x"
    assert storable("\ud83d\x00\ude00") == "\U0001f600"  # joined once the NUL is gone


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("STOP", "stop"),
        ("\uff33\uff34\uff2f\uff30", "stop"),  # full-width
        ("\uff33\uff34\uff2f\uff30\x00", "stop"),
        ("S\u200bTOP", "stop"),  # zero-width space inside a word does not split it
        ("\ufeffS\u200c\u200dT\u2060O\u00adP\u200e", "stop"),  # BOM, joiners, soft hyphen, bidi
        ("ST\x00O\x7fP", "stop"),  # controls that are not whitespace do not split either
        ("STOP\nNOW", "stop now"),  # those that are do
        ("stop\x1fnow\x85please", "stop now please"),
        ("st\u00f3p", "stop"),  # accents stripped
        ("Baj\u00e1", "baja"),
        ("baja\u0301", "baja"),
        ("No me escriban M\u00c1S", "no me escriban mas"),
        ("ma\u00f1ana", "manana"),
        ("Stra\u00dfe", "strasse"),  # casefolded
        ("\u0130stanbul", "istanbul"),
        ("don't", "dont"),  # apostrophes joined
        ("don\u2019t", "dont"),
        ("Stop!!! \U0001f621\U0001f621 now...", "stop now"),  # punctuation and emoji
        ("opt-out", "opt out"),
        ("f*** off", "f off"),
        ("  lots \t of\u3000 space  ", "lots of space"),
        ("\u2460 \uff11\uff12", "1 12"),  # compatibility digits
        ("\ufb01ne", "fine"),  # ligature
        ("\ud800STOP\udfff", "stop"),  # lone surrogates
        ("\U0001f6d1", ""),
        ("", ""),
        ("\ud55c\uad6d\uc5b4", "\ud55c\uad6d\uc5b4"),  # Hangul recomposed
        # Every combining mark goes, vowel signs of scripts that write them as marks too: the
        # tables are Latin-script words, and both sides lose the same marks.
        ("\u0928\u092e\u0938\u094d\u0924\u0947", "\u0928\u092e\u0938\u0924"),
        ("\u0645\u0631\u062d\u0628\u0627", "\u0645\u0631\u062d\u0628\u0627"),
    ],
)
def test_for_matching(text: str, matched: str) -> None:
    assert for_matching(text) == matched


@given(st.text(st.characters(exclude_categories=())))
def test_for_matching_is_words_of_letters_and_digits(text: str) -> None:
    matched = for_matching(text)
    assert for_matching(matched) == matched
    assert matched == matched.strip()
    assert "  " not in matched
    for char in matched.replace(" ", ""):
        assert unicodedata.category(char)[0] in "LN" or unicodedata.category(char) == "Mc"
    matched.encode("utf-8")
