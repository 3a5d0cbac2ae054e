"""Bearer tokens: what verifies, what does not, and what the request layer does with either."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from shared.contract.access_policy import OPERATOR_ONLY, member
from shared.contract.errors import BatonError
from shared.contract.schemas.base import Request
from shared.runtime.access import Caller
from shared.runtime.endpoints import Endpoint, answer
from shared.runtime.settings import CommonSettings
from shared.runtime.tokens import (
    Identity,
    KeyConfigError,
    TokenSigner,
    TokenVerifier,
    hmac_key,
    public_keys_from_file,
    verifier_from_settings,
)

SECRET = "unit-test-secret-that-is-long-enough-for-hs512-too-0123456789abcdef"
SIGNER = TokenSigner.from_secret(SECRET)
VERIFIER = TokenVerifier([hmac_key(SECRET)])


def bearer(token: str) -> str:
    return f"Bearer {token}"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _refused(verifier: TokenVerifier, header: str | None) -> BatonError:
    with pytest.raises(BatonError) as refusal:
        verifier.verify(header)
    return refusal.value


def _ed25519_pem(tmp_path: Path, name: str) -> tuple[Ed25519PrivateKey, Path]:
    private = Ed25519PrivateKey.generate()
    path = tmp_path / f"{name}.pem"
    path.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))  # fmt: skip
    return private, path


def test_a_user_token_names_the_user() -> None:
    assert VERIFIER.verify(bearer(SIGNER.mint(42))) == Identity(subject="42", user_id=42)


def test_the_scheme_is_case_insensitive_as_in_http() -> None:
    token = SIGNER.mint(42)
    for scheme in ("bearer", "BEARER", "Bearer"):
        assert VERIFIER.verify(f"{scheme} {token}").user_id == 42


def test_an_operator_token_is_no_user() -> None:
    identity = VERIFIER.verify(bearer(SIGNER.mint("operator", operator=True)))
    assert identity.operator and identity.user_id is None and identity.subject == "operator"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not.a.jwt",
        "Bearer \x00",
        bearer(TokenSigner.from_secret("another-secret-of-enough-length-9876543").mint(1)),
        bearer(SIGNER.mint(1, ttl_seconds=-120)),  # expired beyond the leeway
        # Not valid yet. Minted when the tests are collected, so half a day ahead: ten minutes
        # ahead had passed by the time a long suite reached this test (and living under the
        # 24-hour bound, so that nbf is what refuses it).
        bearer(SIGNER.mint(1, ttl_seconds=20 * 3600, not_before=time.time() + 12 * 3600)),
        bearer(jwt.encode({"sub": "1"}, SECRET, algorithm="HS256")),  # no exp
        bearer(SIGNER.mint("alice")),  # a user id is a number
        bearer(SIGNER.mint("0")),
        bearer(SIGNER.mint("-3")),
        bearer(SIGNER.mint("01")),  # a second spelling of user 1
        bearer(SIGNER.mint("99999999999999999999")),
        bearer(SIGNER.mint("\uff11\uff12")),  # full-width digits are not an id
        bearer(jwt.encode({"sub": "1", "exp": time.time() + 60}, SECRET, algorithm="HS512")),
    ],
    ids=[
        "none",
        "empty",
        "bare-scheme",
        "bare-scheme-space",
        "basic",
        "garbage",
        "nul",
        "forged",
        "expired",
        "not-yet-valid",
        "no-exp",
        "sub-not-number",
        "sub-zero",
        "sub-negative",
        "sub-leading-zero",
        "sub-too-big",
        "sub-fullwidth",
        "other-hmac-alg",
    ],
)
def test_every_bad_token_is_unauthenticated_alike(header: str | None) -> None:
    refusal = _refused(VERIFIER, header)
    assert (refusal.code, refusal.message) == (
        "unauthenticated",
        "a valid bearer token is required",
    )


def test_alg_none_is_refused() -> None:
    header = _b64({"alg": "none", "typ": "JWT"})
    claims = _b64({"sub": "1", "exp": int(time.time()) + 600})
    assert _refused(VERIFIER, bearer(f"{header}.{claims}.")).code == "unauthenticated"


def test_a_public_key_used_as_an_hmac_secret_is_refused(tmp_path: Path) -> None:
    """Algorithm confusion: an attacker signs HS256 with the (public) PEM text as the secret."""
    rsa = generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "rsa.pem").write_bytes(pem)
    verifier = TokenVerifier(public_keys_from_file(tmp_path / "rsa.pem"))
    claims = {"sub": "1", "exp": int(time.time()) + 600}
    forged = ".".join([_b64({"alg": "HS256", "typ": "JWT"}), _b64(claims), ""])
    import hashlib
    import hmac

    signature = hmac.new(pem, forged[:-1].encode(), hashlib.sha256).digest()
    forged += base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert _refused(verifier, bearer(forged)).code == "unauthenticated"
    # ...while the key's own algorithm verifies.
    genuine = jwt.encode(claims, rsa, algorithm="RS256")
    assert verifier.verify(bearer(genuine)).user_id == 1


def test_eddsa_keys_rotate_without_refusing_valid_tokens(tmp_path: Path) -> None:
    old, old_pem = _ed25519_pem(tmp_path, "old")
    new, new_pem = _ed25519_pem(tmp_path, "new")
    settings = CommonSettings(auth_public_keys=f"{old_pem}, {new_pem}")
    verifier = verifier_from_settings(settings)
    for private in (old, new):
        assert verifier.verify(bearer(TokenSigner(private, "EdDSA").mint(7))).user_id == 7
    stranger = Ed25519PrivateKey.generate()
    assert _refused(verifier, bearer(TokenSigner(stranger, "EdDSA").mint(7))).code == (
        "unauthenticated"
    )
    # The HS256 secret is not configured here, so an HS256 token cannot verify at all.
    assert _refused(verifier, bearer(SIGNER.mint(7))).code == "unauthenticated"


def test_a_jwks_file_with_key_ids(tmp_path: Path) -> None:
    first, second = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    keys = []
    for kid, private in (("k1", first), ("k2", second)):
        jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
        keys.append({**jwk, "kid": kid})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": keys}))
    verifier = TokenVerifier(public_keys_from_file(tmp_path / "jwks.json"))
    token = TokenSigner(second, "EdDSA", key_id="k2").mint(9)
    assert verifier.verify(bearer(token)).user_id == 9
    # A kid that names one key but a signature from another does not verify.
    lying = TokenSigner(first, "EdDSA", key_id="k2").mint(9)
    assert _refused(verifier, bearer(lying)).code == "unauthenticated"


def test_issuer_and_audience_are_checked_when_configured() -> None:
    verifier = TokenVerifier([hmac_key(SECRET)], issuer="https://id.example", audience="baton")
    right = TokenSigner.from_secret(SECRET, issuer="https://id.example", audience="baton")
    assert verifier.verify(bearer(right.mint(3))).user_id == 3
    for wrong in (
        SIGNER,
        TokenSigner.from_secret(SECRET, issuer="https://evil.example", audience="baton"),
        TokenSigner.from_secret(SECRET, issuer="https://id.example", audience="other"),
    ):
        assert _refused(verifier, bearer(wrong.mint(3))).code == "unauthenticated"


def test_keys_that_cannot_be_used_stop_the_service_at_start(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="no way to verify callers"):
        verifier_from_settings(CommonSettings())
    with pytest.raises(KeyConfigError, match="at least 32 bytes"):
        verifier_from_settings(CommonSettings(auth_secret="short"))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(KeyConfigError, match="holds no PEM public key"):
        public_keys_from_file(tmp_path / "junk.pem")
    with pytest.raises(KeyConfigError):
        public_keys_from_file(tmp_path / "missing.pem")


class Ping(Request):
    value: int


async def test_the_request_layer_verifies_before_decoding_and_checks_the_kind_of_caller() -> None:
    seen: list[Caller] = []

    async def handler(_: Ping, caller: Caller) -> dict[str, str]:
        seen.append(caller)
        return {"ok": "yes"}

    members, operators = (Endpoint("m", Ping, handler, member("texter")),
                          Endpoint("o", Ping, handler, OPERATOR_ONLY))  # fmt: skip
    user, operator = ({"Authorization": bearer(SIGNER.mint(5))},
                      {"authorization": bearer(SIGNER.mint("operator", operator=True))})  # fmt: skip
    # Without a token not even a malformed payload is read.
    assert (await answer(members, b"not json", 1024, None, VERIFIER))[1] == "unauthenticated"
    assert (await answer(members, b"not json", 1024, user, VERIFIER))[1] == "bad_request"
    assert (await answer(members, b'{"value": 1}', 1024, operator, VERIFIER))[1] == "forbidden"
    assert (await answer(operators, b'{"value": 1}', 1024, user, VERIFIER))[1] == "forbidden"
    assert (await answer(operators, b'{"value": 1}', 1024, operator, VERIFIER))[1] == "ok"
    assert (await answer(members, b'{"value": 1}', 1024, user, VERIFIER))[1] == "ok"
    # Two Authorization headers differing only in case are ambiguous: none.
    both = {"Authorization": bearer(SIGNER.mint(5)), "authorization": bearer(SIGNER.mint(6))}
    assert (await answer(members, b'{"value": 1}', 1024, both, VERIFIER))[1] == "unauthenticated"
    # No verifier configured fails closed.
    assert (await answer(members, b'{"value": 1}', 1024, user, None))[1] == "internal"
    assert [c.identity.subject for c in seen] == ["operator", "5"]


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_verified_token_is_remembered_until_it_expires_and_no_longer() -> None:
    clock = _Clock()
    verifier = TokenVerifier([hmac_key(SECRET)], clock=clock)
    token = SIGNER.mint(42, ttl_seconds=60)
    assert verifier.verify(bearer(token)) == Identity(subject="42", user_id=42)
    assert verifier.verify(bearer(token)).user_id == 42
    assert verifier.remembered_hits == 1  # the second time, not verified again
    # Past exp and the leeway: forgotten, so verified in full once more (and, by the real
    # clock, still valid).
    clock.now += timedelta(seconds=60 + 31)
    assert verifier.verify(bearer(token)).user_id == 42
    assert verifier.remembered_hits == 1


def test_only_the_exact_token_verified_is_remembered() -> None:
    verifier = TokenVerifier([hmac_key(SECRET)])
    token = SIGNER.mint(42)
    verifier.verify(bearer(token))
    header, _payload, signature = token.split(".")
    forged = f"{header}.{_b64({'sub': '1', 'exp': int(time.time()) + 60})}.{signature}"
    assert _refused(verifier, bearer(forged)).code == "unauthenticated"
    assert _refused(verifier, bearer(token[:-2])).code == "unauthenticated"
    # A refused token is never remembered: refused again, not served from memory.
    assert _refused(verifier, bearer(forged)).code == "unauthenticated"
    assert verifier.remembered_hits == 0


def test_remembered_tokens_are_bounded() -> None:
    from shared.runtime.tokens import REMEMBERED_TOKENS

    verifier = TokenVerifier([hmac_key(SECRET)])
    first = SIGNER.mint(1)
    verifier.verify(bearer(first))
    for user in range(2, REMEMBERED_TOKENS + 2):
        verifier.verify(bearer(SIGNER.mint(user)))
    verifier.verify(bearer(first))  # the least recently used was let go: verified in full
    assert verifier.remembered_hits == 0


# --- issue #30: bounded lifetimes, unreadable times ---------------------------------------------


def _signed_raw(payload: bytes) -> str:
    """A token over exactly these payload bytes (JSON PyJWT would not write, like 1e400)."""
    return jwt.api_jws.encode(payload, SECRET, algorithm="HS256")


def _claims(**claims: Any) -> str:
    return jwt.encode({"sub": "1", **claims}, SECRET, algorithm="HS256")


def test_a_token_living_longer_than_the_bound_is_refused() -> None:
    now = time.time()
    day = CommonSettings.auth_max_token_seconds
    assert day == 86_400
    for token in (
        _claims(iat=int(now), exp=int(now) + day - 60),
        _claims(exp=int(now) + day - 60),  # no iat: from now
        _claims(iat=int(now) - 3600, exp=int(now) + day - 3660),
    ):
        assert VERIFIER.verify(bearer(token)).user_id == 1
    for token in (
        _claims(iat=int(now), exp=int(now) + day + 60),
        _claims(exp=int(now) + day + 60),
        _claims(iat=int(now), exp=253402300799),  # 9999-12-31
        # An iat in the future does not stretch it: bounded from now as well.
        _claims(iat=int(now) + 10 * 365 * day, exp=int(now) + 10 * 365 * day + 3600),
    ):
        assert _refused(VERIFIER, bearer(token)).code == "unauthenticated"


def test_the_bound_is_the_setting() -> None:
    week = 7 * 86_400
    verifier = verifier_from_settings(CommonSettings(auth_secret=SECRET,
                                                     auth_max_token_seconds=week))  # fmt: skip
    assert verifier.verify(bearer(SIGNER.mint(5, ttl_seconds=week - 60))).user_id == 5
    assert _refused(verifier, bearer(SIGNER.mint(5, ttl_seconds=week + 60))).code == (
        "unauthenticated")  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [
        b'{"sub":"1","exp":1' + b"0" * 400 + b"}",  # 10**400
        b'{"sub":"1","exp":1e400}',  # infinity once parsed
        b'{"sub":"1","exp":-1e400}',
        b'{"sub":"1","exp":NaN}',
        b'{"sub":"1","exp":"4102444800"}',
        b'{"sub":"1","exp":true}',
        b'{"sub":"1","exp":[1]}',
        b'{"sub":"1","exp":%d,"iat":1%s}' % (int(time.time()) + 60, b"0" * 400),
        b'{"sub":"1","exp":%d,"iat":1e400}' % (int(time.time()) + 60),
        b'{"sub":"1","exp":%d,"iat":"now"}' % (int(time.time()) + 60),
        b'{"sub":"1","exp":%d,"nbf":1%s}' % (int(time.time()) + 60, b"0" * 400),
        b'{"sub":"1","exp":%d,"nbf":-1e400}' % (int(time.time()) + 60),
        b'{"sub":"1","exp":%d,"nbf":NaN}' % (int(time.time()) + 60),
    ],
    ids=[
        "exp-10e400",
        "exp-inf",
        "exp-minus-inf",
        "exp-nan",
        "exp-string",
        "exp-bool",
        "exp-list",
        "iat-10e400",
        "iat-inf",
        "iat-string",
        "nbf-10e400",
        "nbf-minus-inf",
        "nbf-nan",
    ],
)
def test_an_unreadable_time_is_unauthenticated_never_internal(payload: bytes) -> None:
    refusal = _refused(VERIFIER, bearer(_signed_raw(payload)))
    assert (refusal.code, refusal.message) == (
        "unauthenticated",
        "a valid bearer token is required",
    )
