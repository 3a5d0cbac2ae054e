"""Phone numbers: E.164 normalisation and the time zone a number's region implies."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_timezones


class InvalidPhoneError(ValueError):
    pass


def to_e164(raw: str, default_region: str = "US") -> str:
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(f"cannot read {raw!r} as a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def zone_for(e164: str) -> str | None:
    """The number's time zone when its region has exactly one, else None."""
    zones = phone_timezones.time_zones_for_number(phonenumbers.parse(e164))
    if len(zones) == 1 and zones[0] != "Etc/Unknown":
        return str(zones[0])
    return None
