"""Opt-outs and opt-ins in a contact's message (pure logic): a few tables and one function.

Why: since April 2025 the FCC's revocation-of-consent rule has a sender honour a revocation made
by any reasonable means, and names stop, quit, end, revoke, opt out, cancel and unsubscribe;
carriers (CTIA) expect STOP, STOPALL, UNSUBSCRIBE, CANCEL, END and QUIT to opt out and START or
UNSTOP to opt back in. A missed opt-out is a legal risk; a false one loses a supporter, whom
nobody may text again. So a short message made of an opt-out word opts out, whatever else the
word could mean, and a longer message opts out when it holds a revocation phrase.

How a message is read: `shared.domain.text.for_matching` (NFKC, casefolded, accents, zero-width and
control characters and apostrophes dropped, punctuation and emoji turned into spaces), every run
of one letter squeezed to one ("STOPPPP", "stooop" and, alas, "stoop" are "stop"; the tables are
squeezed the same way), `NOISE` words dropped ("stop fucking texting me"). The message is read
whole, and also in parts cut at sentence punctuation (. ! ? , ; : ¡ ¿ dashes, line breaks).

- Opt-out when the message or one of its parts is nothing but `OPT_OUT_ALONE` entries and
  `FILLERS` ("STOP", "Stop!!!", "STOP STOP", "stop please", "Baja por favor", "Who is this?
  STOP"), or when the message's letters alone (no spaces, no digits) spell an entry or a phrase
  ("S T O P", "S.T.O.P.", "STOP2", "StopTextingMe").
- Opt-out when a part holds one of the `OPT_OUT_PHRASES_*` ("please stop texting me", "remove me
  from your list", "no me escriban más"), unless the words right before it are one of that
  language's `NEGATIONS_*` ("don't stop texting me", "no dejen de escribirme").
- Otherwise opt-in when the whole message is nothing but `OPT_IN_ALONE` entries and `FILLERS`.
  An opt-out in the same message wins: "START STOP" opts out.

False positives avoided by design: the words that mean other things too (stop, end, quit,
cancel, Spanish para, alto, baja) count only alone, so "don't stop", "stop by the office
later?", "I can't stop laughing", "will you stop by", "end of the day works", "quit my job",
"cancel my appointment?", "the bus stop", "stop the steal", "para mañana", "¿para qué?", "es muy
alto" and "Baja California" are replies. "Para" alone is the imperative "stop!": as the
preposition it never stands alone. Phrases are specific ("remove me from" a list, not "remove
me"; "stop texting", not "stop this"), so "remove me from the phone bank shift" is a reply.

Decisions: YES and SUBSCRIBE do not opt in. "Yes" is the commonest answer to a campaign's
question, and an opt-in must never undo an opt-out by accident (texting someone who revoked
consent is the legal risk); START and UNSTOP are what carriers document. "Wrong number" opts
out: whoever holds the number is not the contact and wants no texts, and opt-outs are per
number. Go-away replies ("fuck off", "f*** off", "go away", "leave me alone") are revocations;
insults that ask for nothing ("fuck you", "go to hell") and "not interested" are replies for the
texter, who can still opt the contact out. An emoji alone (a stop sign) is not read.

Look-alikes: a message that reads as no opt-out is read again with look-alike letters folded
(Unicode's confusables, and 0/1/3/5 for O/I or L/E/S inside a word that then spells a keyword's
word: services/inbound/lookalikes.py); if that reading opts out, so does the message. "ST0P",
STOP in Cyrillic letters, or with a Greek omicron, is STOP. A look-alike START opts no one in.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Final, Literal

from services.inbound import lookalikes
from shared.domain.text import for_matching

Outcome = Literal["opt_out", "opt_in"]

# What a message may be, on its own or as one sentence of it, to opt out: the carriers' words,
# the FCC's, short English and Spanish requests, go-away replies.
OPT_OUT_ALONE: Final = (
    *("stop", "stopall", "unsubscribe", "cancel", "end", "quit"),  # carriers (CTIA)
    *("revoke", "opt out", "optout", "revoke consent", "i revoke consent"),  # FCC
    *("unsub", "unsuscribe", "unsubcribe", "unsubscibe", "unsubscrib"),  # common misspellings
    *("remove", "remove me", "take me off", "stop texting", "stop messaging"),
    *("stop sending", "no more", "enough", "wrong number", "wrong person"),
    *("fuck off", "fck off", "fk off", "fuk off", "f off", "piss off", "bugger off"),
    *("go away", "get lost", "buzz off", "leave me alone"),
    *("alto", "para", "parar", "basta", "ya basta", "baja", "de baja", "dar de baja"),
    *("cancelar", "no mas", "desuscribir", "desuscribirme", "borrame", "borrenme"),
    *("dejame en paz", "dejenme en paz", "numero equivocado"),
)
# What a whole message may be to opt back in (carriers' words only, see the module).
OPT_IN_ALONE: Final = ("start", "unstop")
# Words that may come with a keyword without changing what it asks.
FILLERS: Final = frozenset(
    {
        *("please", "pls", "plz", "plez", "plse", "now", "right", "thanks", "thank", "you"),
        *("thx", "ty", "ok", "okay", "k", "just", "all", "asap", "immediately", "already"),
        *("it", "again", "sir", "maam", "bye", "goodbye", "lol", "omg", "seriously"),
        *("por", "favor", "porfa", "porfavor", "xfa", "ya", "gracias", "ahora", "senor"),
        *("senora", "adios", "oye", "ahi"),
    }
)
# Intensifiers, dropped before matching: they never change what is asked.
NOISE: Final = frozenset(
    {"fucking", "fuckin", "fking", "fkn", "freaking", "frickin", "effing", "damn", "goddamn"}
)

# Phrases that opt out wherever they stand. Each is a row of slots, a slot a word or words or a
# tuple of alternatives ("" for none); every combination is a phrase.
_ME = ("me", "us", "this number", "my number", "my phone", "this phone", "my cell")
_DETERMINERS = (
    *("", "the", "these", "those", "this", "all", "all the", "all these", "all of"),
    *("all of these", "all of the", "your", "ur", "all your", "any", "any more"),
)
_TEXTS = ("texts", "text", "txts", "txt", "messages", "message", "msgs", "msg", "sms", "spam")
_LISTS = (
    *("list", "lists", "texting list", "text list", "contact list", "mailing list"),
    *("contacts", "database", "system", "thread", "texts", "messages", "campaign"),
)
OPT_OUT_PHRASES_ENGLISH: Final[Sequence[Sequence[str | tuple[str, ...]]]] = (
    (
        ("stop", "quit"),
        ("texting", "txting", "texing", "messaging", "msging", "spamming"),
        ("", *_ME),
    ),
    (("stop", "quit"), ("contacting", "calling", "bothering", "harassing", "emailing"), _ME),
    (("stop", "quit"), ("", "receiving", "getting", "sending", "sending me"), _DETERMINERS, _TEXTS),
    (
        ("stop", "quit"),
        ("sending", "sending me"),
        ("these", "this", "them", "this stuff", "this crap"),
    ),
    (("dont", "do not", "never", "dont ever", "do not ever"), ("text", "txt", "message"), _ME),
    (("dont", "do not", "never", "dont ever", "do not ever"), ("msg", "contact", "email"), _ME),
    (("dont", "do not", "never", "dont ever", "do not ever"), ("spam", "send"), _ME),
    (("dont want", "do not want"), _DETERMINERS, _TEXTS),
    (("remove", "delete", "lose"), ("my number", "this number", "my phone number")),
    ("remove me from", _DETERMINERS, _LISTS),
    ("take", ("me", "us", "my number", "this number", "my name"), "off", _DETERMINERS, _LISTS),
    ("no more", ("", "of", "of your", "of these"), (*_TEXTS, "texting", "messaging")),
    (("unsubscribe", "unsub", "unsuscribe", "unsubcribe", "unsubscibe", "stopall", "optout"),),
    ("opt out",),
    ("opt", ("me", "us", "my number", "this number"), "out"),
    (("revoke", "withdraw"), ("", "my", "your"), ("consent", "permission")),
    (("leave me alone", "leave us alone", "wrong number", "wrong phone number"),),
)
OPT_OUT_PHRASES_SPANISH: Final[Sequence[Sequence[str | tuple[str, ...]]]] = (
    (
        ("no me", "no nos", "nunca me"),
        ("", "vuelvan a", "vuelvas a", "vuelva a"),
        ("escribas", "escriba", "escriban", "escribir", "envies", "envie", "envien", "enviar"),
    ),
    (
        ("no me", "no nos", "nunca me"),
        ("mandes", "mande", "manden", "contactes", "contacte", "contacten", "textees"),
    ),
    ("no", ("", "me"), ("molestes", "moleste", "molesten")),
    ("no", ("", "quiero", "deseo"), "mas", ("mensajes", "textos", "sms", "msj", "mensajitos")),
    (
        ("no quiero", "no deseo"),
        ("", "recibir", "recibir mas"),
        ("", "sus", "tus", "estos", "los", "mas"),
        ("mensajes", "textos", "sms", "msj"),
    ),
    (
        ("deja", "dejen", "deje", "dejar"),
        "de",
        ("escribirme", "escribir", "mandarme", "mandar", "enviarme", "enviar", "molestarme"),
    ),
    (("dame", "denme", "deme", "darme", "me doy"), "de baja"),
    (("borrame", "borrenme", "quitame", "quitenme", "sacame", "saquenme"), ("de", "del")),
    (("eliminame", "eliminenme"), ("de", "del")),
    (("borren", "borra", "eliminen", "elimina", "quiten"), ("mi numero", "mi telefono")),
    (("dejame", "dejenme"), "en paz"),
    ("numero", ("equivocado", "incorrecto", "erroneo")),
)
# The words right before a phrase that turn it around ("I can't stop texting", "no dejen de").
NEGATIONS_ENGLISH: Final = (
    *("dont", "do not", "doesnt", "didnt", "cant", "cannot", "can not", "wont", "will not"),
    *("never", "not", "shouldnt", "wouldnt", "couldnt", "dont want to", "do not want to"),
    *("dont wanna", "dont need to", "no need to"),
)
NEGATIONS_SPANISH: Final = ("no", "nunca", "jamas", "no quiero", "no voy a")

# Sentence punctuation: a message is also read part by part.
_SENTENCE_ENDS: Final = ".!?,;:\u2026\u00a1\u00bf\u3002\u2013\u2014"

Words = tuple[str, ...]


def classify(body: str) -> Outcome | None:
    """Whether `body` opts out, opts in, or (None) is an ordinary reply: the rules are above."""
    found = _classify(body)
    if found is None:
        # Read again with look-alikes folded, for an opt-out only: a look-alike START is not
        # taken as consent (services/inbound/lookalikes.py).
        folded = lookalikes.fold(body, _is_keyword_word)
        if folded != body and _classify(folded) == "opt_out":
            return "opt_out"
    return found


def _is_keyword_word(word: str) -> bool:
    return _squeeze(word) in _OPT_OUT_WORDS


def _classify(body: str) -> Outcome | None:
    whole = _words(body)
    normal = unicodedata.normalize("NFKC", body).translate(_TO_NEWLINE)
    parts = dict.fromkeys([whole, *(_words(part) for part in normal.splitlines())])
    if _spells(whole, _OPT_OUT_JOINED) or any(
        _alone(part, _OPT_OUT_ALONE, _OPT_OUT_FILLERS) or _holds_phrase(part) for part in parts
    ):
        return "opt_out"
    if _alone(whole, _OPT_IN_ALONE, _FILLERS) or _spells(whole, _OPT_IN_JOINED):
        return "opt_in"
    return None


def is_opt_out(body: str) -> bool:
    return classify(body) == "opt_out"


def _squeeze(word: str) -> str:
    return "".join(letter for letter, _ in itertools.groupby(word))


def _words(text: str) -> Words:
    return tuple(
        squeezed
        for word in for_matching(text).split()
        if (squeezed := _squeeze(word)) not in _NOISE
    )


def _alone(words: Words, entries: frozenset[Words], fillers: frozenset[str]) -> bool:
    """Whether `words` is one or more entries and any fillers, nothing else."""
    if not words or any(word not in _VOCABULARY for word in words):
        return False
    # reached[i]: how words[:i] reads: None not at all, False as fillers only, True with an entry.
    reached: list[bool | None] = [False, *([None] * len(words))]
    for start in range(len(words)):
        if reached[start] is None:
            continue
        if words[start] in fillers:
            reached[start + 1] = reached[start + 1] or reached[start]
        for end in range(start + 1, min(len(words), start + _LONGEST) + 1):
            if words[start:end] in entries:
                reached[end] = True
    return reached[-1] is True


def _spells(words: Words, joined: frozenset[str]) -> bool:
    return (
        _squeeze("".join(char for word in words for char in word if not char.isdigit())) in joined
    )


def _holds_phrase(words: Words) -> bool:
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + _LONGEST) + 1):
            negations = _PHRASES.get(words[start:end])
            if negations is not None and not any(
                words[max(0, start - len(negation)) : start] == negation for negation in negations
            ):
                return True
    return False


def _normalise(entry: str) -> Words:
    return tuple(_squeeze(word) for word in for_matching(entry).split())


def _expand(rows: Iterable[Sequence[str | tuple[str, ...]]]) -> set[Words]:
    found: set[Words] = set()
    for row in rows:
        choices = [(slot,) if isinstance(slot, str) else slot for slot in row]
        for combination in itertools.product(*choices):
            found.add(_normalise(" ".join(combination)))
    return found


_OPT_OUT_ALONE: Final = frozenset(map(_normalise, OPT_OUT_ALONE))
_OPT_IN_ALONE: Final = frozenset(map(_normalise, OPT_IN_ALONE))
_FILLERS: Final = frozenset(map(_squeeze, FILLERS))
_OPT_IN_WORDS: Final = frozenset(itertools.chain(*_OPT_IN_ALONE))
# Opt-in words go with opt-out entries as fillers: "START STOP" opts out.
_OPT_OUT_FILLERS: Final = _FILLERS | _OPT_IN_WORDS
_NOISE: Final = frozenset(map(_squeeze, NOISE))
_VOCABULARY: Final = frozenset(itertools.chain(_FILLERS, _OPT_IN_WORDS, *_OPT_OUT_ALONE))
_PHRASES: Final[dict[Words, tuple[Words, ...]]] = {
    **dict.fromkeys(_expand(OPT_OUT_PHRASES_SPANISH), tuple(map(_normalise, NEGATIONS_SPANISH))),
    **dict.fromkeys(_expand(OPT_OUT_PHRASES_ENGLISH), tuple(map(_normalise, NEGATIONS_ENGLISH))),
}
_OPT_OUT_JOINED: Final = frozenset(
    _squeeze("".join(words)) for words in (*_OPT_OUT_ALONE, *_PHRASES)
)
_OPT_IN_JOINED: Final = frozenset(_squeeze("".join(words)) for words in _OPT_IN_ALONE)
# The words of the opt-out entries and phrases: what a digit-for-letter reading must spell.
_OPT_OUT_WORDS: Final = frozenset(itertools.chain(*_OPT_OUT_ALONE, *_PHRASES))
_LONGEST: Final = max(map(len, (*_OPT_OUT_ALONE, *_OPT_IN_ALONE, *_PHRASES)))
_TO_NEWLINE: Final = str.maketrans(dict.fromkeys(_SENTENCE_ENDS, "\n"))
