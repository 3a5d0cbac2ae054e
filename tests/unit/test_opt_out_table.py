"""Opt-outs and opt-ins in contacts' replies: a table of real-world style messages, and
properties of `storable` and of STOP hidden among invisible characters."""

from __future__ import annotations

import unicodedata

import disarm
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from services.inbound.lookalikes import DIGIT_LETTERS
from services.inbound.opt_out import OPT_OUT_ALONE, classify, is_opt_out
from shared.domain.text import storable

OUT = "opt_out"
IN = "opt_in"

CASES: list[tuple[str, str | None]] = [
    # The carriers' keywords, in every case, spacing and punctuation.
    ("STOP", OUT),
    ("stop", OUT),
    ("Stop", OUT),
    ("sToP", OUT),
    ("  STOP  ", OUT),
    ("STOP.", OUT),
    ("Stop!!!", OUT),
    ("STOP STOP", OUT),
    ("STOP STOP STOP", OUT),
    ("stop?", OUT),
    ('"STOP"', OUT),
    ("S T O P", OUT),
    ("S.T.O.P.", OUT),
    ("S-T-O-P", OUT),
    ("Stopppp", OUT),
    ("STOP2", OUT),
    ("STOOOP", OUT),
    ("STOPALL", OUT),
    ("stop all", OUT),
    ("Stop-all", OUT),
    ("UNSUBSCRIBE", OUT),
    ("unsubscribe", OUT),
    ("Un-subscribe", OUT),
    ("CANCEL", OUT),
    ("cancel.", OUT),
    ("END", OUT),
    ("End", OUT),
    ("QUIT", OUT),
    ("quit!", OUT),
    ("\uff33\uff34\uff2f\uff30", OUT),  # full-width STOP
    ("\uff53\uff54\uff4f\uff50", OUT),  # full-width stop
    ("\u200bSTOP\u200b", OUT),  # zero-width spaces around
    ("S\u200bT\u200cO\u200dP", OUT),  # zero-width space, non-joiner, joiner inside
    ("\ufeffStop", OUT),  # byte order mark
    ("\u202eSTOP\u202c", OUT),  # bidi override
    ("STOP\x00", OUT),
    ("\x00S\x00T\x00O\x00P\x00", OUT),
    ("STOP\r\n", OUT),
    ("\tstop\x07\x7f\x9b", OUT),
    ("ST\u00adOP", OUT),  # soft hyphen
    ("STOP \U0001f6d1", OUT),
    # Look-alikes (issue #30): digits for letters inside a keyword, other scripts' letters.
    ("ST0P", OUT),  # a zero
    ("st0p", OUT),
    ("5TOP", OUT),
    ("QU1T", OUT),
    ("3ND", OUT),
    ("CANC3L", OUT),
    ("UN5UB5CRIBE", OUT),
    ("0PT 0UT", OUT),
    ("ST0P please", OUT),
    ("\u0455\u0442\u043e\u0440", OUT),  # Cyrillic small dze, te, o, er
    ("\u0405\u0422\u041e\u0420", OUT),  # the same, capitals
    ("ST\u039fP", OUT),  # Greek capital omicron
    ("\u0455top", OUT),  # one Cyrillic letter
    ("\U0001d412\U0001d413\U0001d40e\U0001d40f", OUT),  # mathematical bold STOP
    ("\ua4e2\ua4d4\ua4f3\ua4d1", OUT),  # Lisu letters that look like STOP
    ("st\u043ep texting me", OUT),
    ("\u0420lease remove me from your list", OUT),  # a Cyrillic capital er in a phrase
    ("\u0405\u0422\u0410RT", None),  # a look-alike START opts no one in
    ("I'll be there at 10, 5 min away", None),
    ("1st street, apt 3", None),
    ("st0p by the office later?", None),  # a look-alike is read as the word, no more
    ("\u0441\u0442\u043e\u043f", None),  # Russian стоп reads as "cton": not read
    ("Stop \U0001f621\U0001f621", OUT),
    ("\U0001f44e STOP \U0001f44e", OUT),
    # With filler words, or as one sentence of the reply.
    ("Please stop", OUT),
    ("stop please", OUT),
    ("STOP PLEASE THANK YOU", OUT),
    ("Stop now", OUT),
    ("stop it", OUT),
    ("Just stop.", OUT),
    ("ok stop", OUT),
    ("Stop pls", OUT),
    ("Who is this? STOP", OUT),
    ("Stop. Who is this?", OUT),
    ("No, stop", OUT),
    ("Stop, wrong person", OUT),
    ("I already voted. STOP", OUT),
    ("STOP FUCKING TEXTING ME", OUT),
    ("START STOP", OUT),
    # Revocation phrases.
    ("stop texting me", OUT),
    ("stop texting me please", OUT),
    ("Please stop texting me", OUT),
    ("Can you please stop texting me", OUT),
    ("Stop texting this number", OUT),
    ("stop messaging me", OUT),
    ("Stop sending me these texts", OUT),
    ("stop sending these", OUT),
    ("STOP ALL MESSAGES", OUT),
    ("I want to stop receiving these messages", OUT),
    ("Quit texting me", OUT),
    ("Stop contacting me", OUT),
    ("StopTextingMe", OUT),
    ("Please remove me from this list", OUT),
    ("Remove me from your list", OUT),
    ("remove me", OUT),
    ("Remove my number", OUT),
    ("Take me off your list", OUT),
    ("take me off this list please", OUT),
    ("Don't text me", OUT),
    ("don\u2019t text me again", OUT),
    ("Do not contact me", OUT),
    ("Never text me again", OUT),
    ("Leave me alone", OUT),
    ("Who is this? Leave me alone", OUT),
    ("Unsubscribe me", OUT),
    ("unsuscribe", OUT),
    ("How do I unsubscribe", OUT),
    ("opt out", OUT),
    ("Opt-out", OUT),
    ("optout", OUT),
    ("OPT ME OUT", OUT),
    ("I want to opt out", OUT),
    ("REVOKE", OUT),
    ("I revoke my consent", OUT),
    ("No more texts", OUT),
    ("No more messages please", OUT),
    ("I don't want these texts", OUT),
    ("Wrong number", OUT),
    ("Sorry, wrong number. I'm not Maria", OUT),
    ("Lose my number", OUT),
    # Go-away replies.
    ("f*** off", OUT),
    ("F**k off!", OUT),
    ("Fuck off", OUT),
    ("go away", OUT),
    ("Piss off", OUT),
    # Spanish.
    ("ALTO", OUT),
    ("Alto!", OUT),
    ("alto ya", OUT),
    ("Baja", OUT),
    ("baja por favor", OUT),
    ("Bajá", OUT),
    ("Para", OUT),
    ("¡Para ya!", OUT),
    ("Parar", OUT),
    ("Cancelar", OUT),
    ("Basta", OUT),
    ("Ya basta!", OUT),
    ("No me escriban más", OUT),
    ("no me escribas", OUT),
    ("Por favor no me envíen mensajes", OUT),
    ("No más mensajes", OUT),
    ("No quiero recibir más mensajes", OUT),
    ("Dejen de escribirme", OUT),
    ("Dame de baja por favor", OUT),
    ("Quiero darme de baja", OUT),
    ("Bórrenme de su lista", OUT),
    ("Número equivocado", OUT),
    ("Déjenme en paz", OUT),
    ("no más", OUT),
    # Opt-ins: the carriers' words only.
    ("START", IN),
    ("start", IN),
    ("Start.", IN),
    ("UNSTOP", IN),
    ("unstop please", IN),
    ("\uff33\uff34\uff21\uff32\uff34", IN),  # full-width START
    ("Yes", None),  # the commonest answer, not an opt-in
    ("subscribe", None),
    # Replies that mention an opt-out word and are not opt-outs.
    ("don't stop", None),
    ("Don't stop!", None),
    ("Can't stop, won't stop", None),
    ("don't stop texting me, I love the updates", None),
    ("Please don't remove me from the list", None),
    ("stop by the office later?", None),
    ("Sure, I can stop by Saturday", None),
    ("I can't stop laughing", None),
    ("will you stop by", None),
    ("Is there a bus stop near the polling place?", None),
    ("the bus stop", None),
    ("Stop the steal", None),
    ("Stop lying to people", None),
    ("end of the day works", None),
    ("When does early voting end?", None),
    ("The end", None),
    ("quit my job", None),
    ("I quit smoking last year", None),
    ("cancel my appointment?", None),
    ("Cancel student debt!", None),
    ("para mañana", None),
    ("Sí, para mañana está bien", None),
    ("¿Para qué es esto?", None),
    ("Es muy alto el costo", None),
    ("Baja California", None),
    ("Cancelar mi cita", None),
    ("No dejen de escribirme", None),
    ("I don't want to opt out", None),
    ("Please do not stop texting me", None),
    ("Can you remove me from the phone bank shift?", None),
    ("take me off the waitlist", None),
    # Ordinary replies, supportive or hostile: for the texter.
    ("who is this?", None),
    ("I already voted", None),
    ("Yes, count me in!", None),
    ("Can I get a yard sign?", None),
    ("Not interested", None),
    ("No thanks", None),
    ("No", None),
    ("How did you get my number?", None),
    ("fuck you", None),
    ("Go to hell", None),
    ("You people are crooks", None),
    ("Never voting for him", None),
    ("Gracias, ya voté", None),
    ("¿Quién es?", None),
    ("\U0001f44d", None),
    ("\U0001f6d1", None),  # a stop sign alone is not read
    ("", None),
    ("\x00", None),
]


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 100
    assert sum(outcome is None for _, outcome in CASES) >= 25
    assert len({body for body, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("body", "expected"), CASES, ids=[ascii(body) for body, _ in CASES])
def test_reply(body: str, expected: str | None) -> None:
    assert classify(body) == expected
    assert is_opt_out(body) is (expected == OUT)


# Invisible characters: C0 and C1 controls, format characters (Cf), and whitespace.
_INVISIBLE = st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"])
_FULL_WIDTH = {letter: chr(ord(letter) - ord("A") + 0xFF21) for letter in "STOP"}


@given(
    letters=st.lists(
        st.tuples(st.booleans(), st.booleans()), min_size=4, max_size=4
    ),  # (upper case, full-width) for each of S, T, O, P
    gaps=st.lists(st.text(_INVISIBLE, max_size=4), min_size=5, max_size=5),
)
@example(letters=[(True, False)] * 4, gaps=["\x00", "\u200b", "\x85", "\ufeff", "\u2028"])
def test_stop_among_invisible_characters_opts_out(
    letters: list[tuple[bool, bool]], gaps: list[str]
) -> None:
    spelled = []
    for letter, (upper, wide) in zip("STOP", letters, strict=True):
        char = _FULL_WIDTH[letter] if wide else letter
        spelled.append(char if upper else char.lower())
    body = gaps[0] + "".join(c + gap for c, gap in zip(spelled, gaps[1:], strict=True))
    assert classify(body) == OUT


def _unstorable(char: str) -> bool:
    category = unicodedata.category(char)
    return char == "\x00" or category == "Cs" or (category == "Cc" and char not in "\n\r\t")


@given(st.text(st.characters(exclude_categories=())))
@example("a\x00b\r\nc\rd\x85e\ud800f\udc00\ud83d\ude00")
def test_storable_text_holds_nothing_postgres_refuses(text: str) -> None:
    stored = storable(text)
    assert not any(map(_unstorable, stored))
    assert storable(stored) == stored
    stored.encode("utf-8")


# Every character outside ASCII whose confusables skeleton is one ASCII letter, by letter.
_LOOKALIKES: dict[str, list[str]] = {}
for _code in range(0x80, 0x30000):
    if 0xD800 <= _code <= 0xDFFF:
        continue
    _skeleton = disarm.skeleton_key(chr(_code))
    if len(_skeleton) == 1 and _skeleton.isascii() and _skeleton.isalpha():
        _LOOKALIKES.setdefault(_skeleton, []).append(chr(_code))
_KEYWORDS = sorted(OPT_OUT_ALONE)


def _variants(keyword: str, at: int) -> list[str]:
    """What may stand for `keyword[at]`: its look-alikes, and inside a word of two letters or
    more, the digits typed for it."""
    letter = keyword[at]
    start, end = keyword.rfind(" ", 0, at) + 1, keyword.find(" ", at)
    in_a_word = (len(keyword) if end < 0 else end) - start > 1
    digits = [d for d, letters in DIGIT_LETTERS.items() if letter in letters] if in_a_word else []
    # Capital I's look-alikes have the skeleton `l` (UTS #39 folds I and l together).
    capitals = [c for c in _LOOKALIKES["l"] if c.isupper()] if letter == "i" and in_a_word else []
    wide = [chr(ord(d) - ord("0") + 0xFF10) for d in digits]  # full-width digits
    return [*_LOOKALIKES.get(letter, []), *capitals, *digits, *wide]


@st.composite
def _keyword_with_a_lookalike(draw: st.DrawFn) -> str:
    keyword = draw(st.sampled_from(_KEYWORDS))
    at = draw(st.sampled_from([i for i, char in enumerate(keyword) if char.isalpha()]))
    replacement = draw(st.sampled_from(_variants(keyword, at)))
    # Upper-cased before the replacement goes in: a look-alike's own capital may not look alike.
    base = keyword.upper() if draw(st.booleans()) else keyword
    return base[:at] + replacement + base[at + 1 :]


def test_every_letter_of_every_keyword_has_lookalikes() -> None:
    letters = {char for keyword in _KEYWORDS for char in keyword if char.isalpha()}
    assert letters <= set(_LOOKALIKES), letters - set(_LOOKALIKES)


@given(_keyword_with_a_lookalike())
@example("st\u043ep")
@example("\u0455top")
@example("QU\u0406T")  # Cyrillic capital I, found by the outside review
@example("UNSUBSCR\u0399BE")  # Greek capital iota
@example("ST\uff10P")  # a full-width zero
@example("\uff53\uff54\uff10\uff50")
def test_any_keyword_with_one_letter_replaced_by_a_lookalike_opts_out(body: str) -> None:
    assert classify(body) == OUT, ascii(body)


def test_every_single_lookalike_of_every_keyword_opts_out() -> None:
    """The property above, every case of it: each keyword, each letter, each look-alike."""
    missed = [
        keyword[:at] + replacement + keyword[at + 1 :]
        for keyword in _KEYWORDS
        for at, char in enumerate(keyword)
        if char.isalpha()
        for replacement in _variants(keyword, at)
        if classify(keyword[:at] + replacement + keyword[at + 1 :]) != OUT
    ]
    assert not missed, [ascii(body) for body in missed[:20]]


@pytest.mark.timeout(60)
def test_a_long_run_of_letters_is_read_in_linear_time() -> None:
    """Found by the outside review: the look-alike fold's pattern backtracked quadratically on a
    long run of letters (2 s for 10,000), holding up every STOP behind it. 200,000 letters took
    minutes that way; read word by word they take milliseconds (the limit is generous)."""
    assert classify("a" * 200_000) is None
    assert classify("a" * 100_000 + " ST0P") is None  # one long word, then a look-alike STOP
    assert classify("ST0P " + "b" * 100_000) is None
