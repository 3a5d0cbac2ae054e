from __future__ import annotations

from shared.logging import mask_phone


def test_phone_numbers_are_masked_to_their_last_two_digits() -> None:
    assert mask_phone("+14155550123") == "**********23"
    masked = mask_phone("reply from +1 415 555 0123 matched")
    assert masked == "reply from " + "*" * 13 + "23 matched"


def test_short_numbers_are_left_alone() -> None:
    assert mask_phone("campaign 12345") == "campaign 12345"
