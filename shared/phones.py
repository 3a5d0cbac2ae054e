"""Phone numbers: E.164 normalisation and the time zone a number's region implies."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import timezone as phone_timezones


class InvalidPhoneError(ValueError):
    pass


def to_e164(raw: str, default_region: str = "US", *, strict: bool = True) -> str:
    """`strict`: only numbers phonenumbers knows to be assigned (what we text). Not strict: any
    number of a possible length (who texts us: a contact's STOP from a number in an area code
    newer than the installed metadata must still be honoured)."""
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"cannot read {raw!r} as a phone number") from exc
    known = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    if not known(parsed):
        raise InvalidPhoneError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


SHORT_CODE = re.compile(r"[0-9]{3,8}")


def to_sending_number(raw: str, default_region: str = "US") -> str:
    """A number Baton texts from: E.164, or a short code's digits as the carrier gives them."""
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
