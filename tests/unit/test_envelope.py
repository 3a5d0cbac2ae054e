from __future__ import annotations

import json

import pytest

from shared.contract.envelope import encode_error, encode_ok, unwrap
from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError


def test_ok_envelope() -> None:
    payload = encode_ok({"org_id": 7})
    assert json.loads(payload) == {"ok": True, "data": {"org_id": 7}}
    assert unwrap(payload) == {"org_id": 7}


def test_error_envelope_round_trips_its_code() -> None:
    payload = encode_error(
        BatonError(ErrorCode.INITIALS_PENDING, "Send your initials first", {"n": 3})
    )
    assert json.loads(payload) == {
        "ok": False,
        "error": {
            "code": "initials_pending",
            "message": "Send your initials first",
            "details": {"n": 3},
        },
    }
    with pytest.raises(BatonError) as caught:
        unwrap(payload)
    assert caught.value.code == "initials_pending"
    assert caught.value.details == {"n": 3}
