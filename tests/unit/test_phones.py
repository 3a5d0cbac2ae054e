"""`to_e164`'s shortcuts (a +1 number in E.164 built without parsing; a US number valid by the US
patterns alone) give the same answer as phonenumbers' own parse and check, for every input."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import phones
from shared.domain.phones import InvalidPhoneError, to_e164

REGIONS = ("US", "CA", "GB", "PR")


def by_the_library(raw: str, region: str, strict: bool) -> str | None:
    """What `to_e164` answered before its shortcuts: phonenumbers' parse, check and format."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    known = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    return phonenumbers.format_number(number, 0) if known(number) else None


def ours(raw: str, region: str, strict: bool) -> str | None:
    try:
        return to_e164(raw, region, strict=strict)
    except InvalidPhoneError:
        return None


nanp_e164 = st.from_regex(r"\A\+1[2-9][0-9]{9}\Z")
near_misses = st.from_regex(r"\A\+1[0-9]{8,12}\Z")
written_any_way = st.text(alphabet="+0123456789 ()-.x", min_size=1, max_size=16)


def test_the_installed_metadata_lets_the_us_patterns_decide() -> None:
    # Else the US shortcut is off and the tests below only show the slow path.
    assert phones._US_FIRST


@settings(max_examples=3000, deadline=None)
@given(raw=nanp_e164, region=st.sampled_from(REGIONS))
def test_a_nanp_number_in_e164_is_the_number_parse_finds(raw: str, region: str) -> None:
    assert phones._parsed(raw, region) == phonenumbers.parse(raw, region)


@settings(max_examples=3000, deadline=None)
@given(raw=st.one_of(nanp_e164, near_misses, written_any_way), region=st.sampled_from(REGIONS),
       strict=st.booleans())  # fmt: skip
def test_every_answer_is_the_librarys(raw: str, region: str, strict: bool) -> None:
    assert ours(raw, region, strict) == by_the_library(raw, region, strict)


def test_every_area_code_is_answered_as_the_library_does() -> None:
    # Each area code with a few exchanges and lines: US, Canada, the Caribbean, and unassigned.
    valid = 0
    for area in range(200, 1000):
        for exchange, line in ((200, 0), (555, 123), (310, 9999), (999, 4567), (100, 1234)):
            raw = f"+1{area}{exchange:03d}{line:04d}"
            for strict in (True, False):
                answer = ours(raw, "US", strict)
                assert answer == by_the_library(raw, "US", strict), raw
                valid += answer is not None and strict
    assert valid > 1000  # the sweep reaches valid numbers, not only refusals
