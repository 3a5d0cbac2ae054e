"""Text from the SMS bridge (pure logic): made storable, and made matchable.

- `storable(text)`: what Postgres can store and a person can read, kept as close to what the
  contact sent as that allows. NUL (Postgres `text` refuses it) and the other C0/C1 control
  characters go, except tab and line breaks; every line break (CR LF, a lone CR, NEL) becomes
  LF. Surrogates cannot be encoded as UTF-8: a high/low pair that arrived as two code points is
  joined into the character it stands for, a lone one is dropped. Everything else (emoji and
  their joiners, accents, right-to-left text and its marks, unassigned code points) is kept
  exactly as sent: no Unicode normalisation.
- `for_matching(text)`: a canonical form to compare words in, never to store or show. NFKC
  (full-width "STOP", U+FF33 U+FF34 U+FF2F U+FF30, is "STOP"), casefolded, accents and other
  combining marks stripped ("bajá" is "baja"), format characters (zero-width spaces and
  joiners, BOM, bidi marks, soft hyphen) and control characters dropped so that they cannot
  split a word, apostrophes dropped so that "don't" and "dont" are one word, anything else that
  is not a letter or a digit (punctuation, symbols, emoji, whitespace) turned into a space,
  spaces collapsed, trimmed.
"""

from __future__ import annotations

import re
import unicodedata

# C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F), but for tab, LF and CR (CR is turned into LF
# below) and NEL, which is a line break and becomes one.
_CONTROLS: dict[int, str | None] = {
    code: None for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(code) not in "\t\n\r"
}
_CONTROLS[0x85] = "\n"
_SURROGATE = re.compile("[\ud800-\udfff]")

# Apostrophes and the marks typed for them: deleted, so that a contraction stays one word.
_APOSTROPHES: dict[int, None] = dict.fromkeys(
    map(ord, "'`\u00b4\u2018\u2019\u201b\u2032\u02b9\u02bb\u02bc\u02bd\uff07")
)
# Dropped from matching text without leaving a space: controls that are not whitespace, format
# characters, surrogates and combining marks (after decomposition, so accents come off).
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Mn", "Me"})


def storable(text: str) -> str:
    """`text` without what Postgres cannot store or a person cannot read; otherwise as given."""
    text = text.translate(_CONTROLS)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _SURROGATE.search(text):
        # UTF-16 with surrogatepass turns each surrogate back into its two bytes; decoding joins
        # the pairs into their characters and ignores what is left on its own.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    return text


def for_matching(text: str) -> str:
    """Lower-case letters and digits in words separated by single spaces (see the module)."""
    # Apostrophes go before NFKC (which turns U+00B4 into a space and a mark) and after it
    # (which makes U+02BC out of U+0149).
    text = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES))
    text = text.casefold().translate(_APOSTROPHES)
    kept: list[str] = []
    for char in unicodedata.normalize("NFKD", text):
        if char.isspace():
            kept.append(" ")
            continue
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES:
            continue
        # Letters, digits and spacing marks (the vowel signs of Indic scripts) make words.
        kept.append(char if category[0] in "LN" or category == "Mc" else " ")
    return " ".join(unicodedata.normalize("NFKC", "".join(kept)).split())
