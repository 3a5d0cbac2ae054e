"""The outbox puts each row on a subject of its own: its message id as one valid subject token,
one-to-one, so the stream's "nothing on this subject yet" guard means "this message not yet"."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.contract import catalogue as api
from shared.runtime.outbox import stream_subject, subject_token


def _valid_token(token: str) -> bool:
    return (
        bool(token) and not any(c in token for c in ".*>") and not any(c.isspace() for c in token)
    )


def test_ids_that_are_tokens_already_stay_as_they_are() -> None:
    assert stream_subject(api.OUTBOUND_SMS.subject, "4711") == api.OUTBOUND_SMS.at("4711")
    operation = "2f1c7a52-9a43-4d0e-b0a4-5b8a1d2f0c11"
    assert subject_token(operation) == operation
    assert subject_token(f"{operation}:12:unassigned") == f"{operation}:12:unassigned"
    assert subject_token("consent:prov-17") == "consent:prov-17"


def test_other_ids_are_encoded_into_one_token() -> None:
    for msg_id in ("consent:prov.1", "consent:a b", "consent:*", "consent:>", "", "~x", "ü"):
        token = subject_token(msg_id)
        assert token.startswith("~") and _valid_token(token), (msg_id, token)


@given(st.text())
def test_every_id_becomes_one_valid_token(msg_id: str) -> None:
    token = subject_token(msg_id)
    assert _valid_token(token)
    assert stream_subject(api.CONTACT_OPTED_OUT.subject, msg_id).count(".") == 4


@given(st.text(), st.text())
def test_two_ids_never_share_a_subject(first: str, second: str) -> None:
    assert (subject_token(first) == subject_token(second)) == (first == second)


@given(st.text(alphabet="abc.:~ -_=", max_size=6), st.text(alphabet="abc.:~ -_=", max_size=6))
def test_two_ids_never_share_a_subject_even_when_they_look_alike(first: str, second: str) -> None:
    assert (subject_token(first) == subject_token(second)) == (first == second)
