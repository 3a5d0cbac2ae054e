"""Phone numbers: E.164 normalisation and the time zone a number's region implies."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import timezone as phone_timezones
from phonenumbers.phonemetadata import PhoneMetadata


class InvalidPhoneError(ValueError):
    pass


# A NANP number already written in E.164 (`+1`, then ten digits, the first not 0 or 1): most of
# a campaign's contacts file. `phonenumbers.parse` finds exactly this number in it (+1, no national
# prefix to strip, no extension; tests/unit/test_phones.py checks), so it is built directly.
_NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")


def _us_decides_nanp_validity() -> bool:
    """Whether a +1 number the US patterns accept is valid whatever other NANP region it could be
    in: `is_valid_number` asks the country code's regions in turn and takes the first that claims
    the number, and the US is asked first, by its patterns alone (no leading digits of its own).
    Checked against the installed metadata, so an update that changes this turns the shortcut
    off instead of making it wrong."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(1, ())
    us = PhoneMetadata.metadata_for_region("US", None)
    return bool(regions) and regions[0] == "US" and us is not None and us.leading_digits is None


_US_FIRST = _us_decides_nanp_validity()


def _parsed(raw: str, default_region: str) -> phonenumbers.PhoneNumber:
    if _NANP_E164.fullmatch(raw):
        return phonenumbers.PhoneNumber(country_code=1, national_number=int(raw[2:]))
    try:
        return phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"cannot read {raw!r} as a phone number") from exc


def _valid(number: phonenumbers.PhoneNumber) -> bool:
    # A US number (most contacts) is valid by the US patterns alone: half the time of the search
    # through every region of its country code.
    us = _US_FIRST and number.country_code == 1
    if us and phonenumbers.is_valid_number_for_region(number, "US"):
        return True
    return bool(phonenumbers.is_valid_number(number))


def to_e164(raw: str, default_region: str = "US", *, strict: bool = True) -> str:
    """`strict`: only numbers phonenumbers knows to be assigned (what we text). Not strict: any
    number of a possible length (who texts us: a contact's STOP from a number in an area code
    newer than the installed metadata must still be honoured)."""
    number = _parsed(raw, default_region)
    known = _valid if strict else phonenumbers.is_possible_number
    if not known(number):
        raise InvalidPhoneError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A US/Canadian short code: five or six digits. Three- and four-digit service numbers (911, 411
# and the other N11 codes, 4-digit carrier services) are no one Baton may text from (issue #30).
SHORT_CODE = re.compile(r"[0-9]{5,6}")


def to_sending_number(raw: str, default_region: str = "US") -> str:
    """A number Baton texts from: a valid E.164 number (phonenumbers' own check), or a short
    code's digits as the carrier gives them. Anything else (911, a 7-digit local number) is
    InvalidPhoneError; inbound keeps such a `to` as given (services/inbound/replies.py)."""
    stripped = raw.strip()
    if SHORT_CODE.fullmatch(stripped):
        return stripped
    return to_e164(stripped, default_region)


def zone_for(e164: str) -> str | None:
    """The number's time zone when its region has exactly one, else None."""
    zones = phone_timezones.time_zones_for_number(phonenumbers.parse(e164))
    if len(zones) == 1 and zones[0] != "Etc/Unknown":
        return str(zones[0])
    return None
