"""Bearer tokens: who is calling, verified before anything else is read (RFC 8725 practice).

A token is a JWT whose `sub` is a Baton user id written in decimal, or, with `"operator": true`,
the deployment's operator (who may create organizations and their first owners, nothing else).

Keys decide algorithms, never the token: an HS256 secret accepts only HS256, an Ed25519 public key
only EdDSA, an RSA public key only RS256. So `alg: none` and algorithm confusion (a public key
used as an HMAC secret) cannot verify. Several public keys may be configured at once, so a
signing key can be rotated without a moment in which valid tokens are refused.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from shared.contract.error_codes import ErrorCode
from shared.contract.errors import BatonError
from shared.domain.clock import Clock, utc_now
from shared.runtime.settings import CommonSettings

BEARER = "Bearer "
AUTHORIZATION_HEADER = "Authorization"
# RFC 7518 3.2: an HS256 key must be at least as long as the hash.
MIN_SECRET_BYTES = 32
# Clock skew tolerated on exp/nbf between the issuer and the services.
LEEWAY_SECONDS = 30
OPERATOR_CLAIM = "operator"
# Verified tokens remembered at most (the least recently used go first): a texter has one at a
# time, so this covers thousands of texters in a few MB.
REMEMBERED_TOKENS = 10_000
# A token's longest life unless the settings say otherwise (BATON_AUTH_MAX_TOKEN_SECONDS).
DEFAULT_MAX_LIFETIME_SECONDS = float(CommonSettings.auth_max_token_seconds)
# The largest time claim read: 2**53 seconds, beyond which a float is no longer exact (and far
# beyond any year a token could mean).
MAX_NUMERIC_DATE = 2**53


class KeyConfigError(ValueError):
    """A configured key cannot be used; raised at start, naming the file."""


@dataclass(frozen=True)
class Identity:
    """The verified caller of one request."""

    subject: str
    # The Baton user the token speaks for; None for the operator, who is not a Baton user.
    user_id: int | None
    operator: bool = False


@dataclass(frozen=True)
class VerificationKey:
    key: Any
    algorithm: str
    key_id: str | None = None


def unauthenticated() -> BatonError:
    # One answer for every way a token can be wrong: telling them apart helps only an attacker.
    return BatonError(ErrorCode.UNAUTHENTICATED, "a valid bearer token is required")


class TokenVerifier:
    """Verifies tokens with the keys it was built with. A token verified once is remembered, by
    its exact text, until it expires: a texter's app sends the same token with every request,
    and verifying it again was a fifth of the sender's time per text (py-spy, #17). The same
    text cannot verify differently later (the keys are fixed for the verifier's life, and `nbf`
    once passed stays passed), so a remembered token is as verified as a new one."""

    def __init__(
        self,
        keys: list[VerificationKey],
        *,
        issuer: str | None = None,
        audience: str | None = None,
        clock: Clock = utc_now,
        max_lifetime_seconds: float = DEFAULT_MAX_LIFETIME_SECONDS,
    ) -> None:
        if not keys:
            raise KeyConfigError("no verification key configured")
        self._keys = keys
        self._issuer = issuer or None
        self._audience = audience or None
        self._jwt = jwt.PyJWT()
        self._clock = clock
        self._max_lifetime = max_lifetime_seconds
        # token text -> (its identity, the moment it stops verifying: exp + leeway)
        self._verified: OrderedDict[str, tuple[Identity, float]] = OrderedDict()
        self.remembered_hits = 0

    def _now(self) -> float:
        return self._clock().timestamp()

    def verify(self, authorization: str | None) -> Identity:
        """The caller named by an `Authorization: Bearer <JWT>` header, or `unauthenticated`."""
        scheme, _, token = (authorization or "").partition(" ")
        # The scheme is case-insensitive, as in HTTP (RFC 9110 11.1).
        if scheme.lower() != BEARER.strip().lower() or not token.strip():
            raise unauthenticated()
        token = token.strip()
        remembered = self._verified.get(token)
        if remembered is not None:
            identity, until = remembered
            if self._now() <= until:
                self._verified.move_to_end(token)
                self.remembered_hits += 1
                return identity
            del self._verified[token]
        identity, expires = self._verify(token)
        self._verified[token] = (identity, expires + LEEWAY_SECONDS)
        if len(self._verified) > REMEMBERED_TOKENS:
            self._verified.popitem(last=False)
        return identity

    def _verify(self, token: str) -> tuple[Identity, float]:
        """The token's identity and its `exp`, verified in full."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthenticated() from None
        for candidate in self._candidates(header):
            try:
                claims = self._jwt.decode(
                    token,
                    candidate.key,
                    algorithms=[candidate.algorithm],
                    issuer=self._issuer,
                    audience=self._audience,
                    leeway=LEEWAY_SECONDS,
                    options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
                )
            except jwt.InvalidSignatureError:
                continue  # another configured key may have signed it (rotation)
            except (jwt.PyJWTError, OverflowError, ValueError, TypeError):
                # PyJWT reads the times with int(): an `exp` of 1e400 (infinity once parsed)
                # raises OverflowError, not a PyJWTError; a token is never `internal`.
                raise unauthenticated() from None
            return _identity(claims), self._bounded_expiry(claims)
        raise unauthenticated()

    def _bounded_expiry(self, claims: dict[str, Any]) -> float:
        """`exp`, once every time claim is a readable number and the token lives no longer than
        the bound (from `iat`, and from now: an `iat` in the future does not stretch it)."""
        times = {name: _time_claim(claims, name) for name in ("exp", "iat", "nbf")}
        expires = times["exp"]
        if expires is None:
            raise unauthenticated()
        issued = times["iat"]
        now = self._now()
        start = now if issued is None else min(issued, now)
        if expires - start > self._max_lifetime:
            raise unauthenticated()
        return expires

    def _candidates(self, header: dict[str, Any]) -> list[VerificationKey]:
        algorithm = header.get("alg")
        same_alg = [k for k in self._keys if k.algorithm == algorithm]
        key_id = header.get("kid")
        if key_id is not None:
            named = [k for k in same_alg if k.key_id == key_id]
            if named:
                return named
        return same_alg


def _time_claim(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 2), None when absent; anything but a finite number of
    seconds within the years a float holds exactly (an int of 400 digits, a bool, NaN, a string)
    is `unauthenticated`."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise unauthenticated()
    if not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:  # also False for NaN
        raise unauthenticated()
    return float(value)


def _identity(claims: dict[str, Any]) -> Identity:
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise unauthenticated()
    if claims.get(OPERATOR_CLAIM) is True:
        return Identity(subject=subject, user_id=None, operator=True)
    # Canonical decimal only: "01" or "+1" would be a second spelling of the same user.
    if not (subject.isascii() and subject.isdigit()) or str(int(subject)) != subject:
        raise unauthenticated()
    if not 1 <= int(subject) < 2**63:
        raise unauthenticated()
    return Identity(subject=subject, user_id=int(subject))


# --- configured keys ---------------------------------------------------------------------------


def hmac_key(secret: str) -> VerificationKey:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise KeyConfigError(f"an HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
    return VerificationKey(secret.encode(), "HS256")


def public_keys_from_file(path: Path) -> list[VerificationKey]:
    """Every public key in a PEM file (one or several keys) or a JWKS file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyConfigError(f"{path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        return _from_jwks(path, text)
    keys = []
    for block in _pem_blocks(text):
        try:
            public = serialization.load_pem_public_key(block.encode())
        except ValueError as exc:
            raise KeyConfigError(f"{path}: not a PEM public key ({exc})") from None
        keys.append(VerificationKey(public, _algorithm_for(path, public)))
    if not keys:
        raise KeyConfigError(f"{path}: holds no PEM public key or JWKS")
    return keys


def _from_jwks(path: Path, text: str) -> list[VerificationKey]:
    try:
        key_set = jwt.PyJWKSet.from_json(text)
    except (jwt.PyJWTError, json.JSONDecodeError, ValueError) as exc:
        raise KeyConfigError(f"{path}: not a usable JWKS ({exc})") from None
    keys = []
    for jwk in key_set.keys:
        public = jwk.key
        if isinstance(public, Ed25519PrivateKey | RSAPrivateKey):
            raise KeyConfigError(f"{path}: holds a private key; give the services public keys only")
        keys.append(VerificationKey(public, _algorithm_for(path, public), jwk.key_id))
    return keys


def _algorithm_for(path: Path, public: object) -> str:
    if isinstance(public, Ed25519PublicKey):
        return "EdDSA"
    if isinstance(public, RSAPublicKey):
        if public.key_size < 2048:
            raise KeyConfigError(f"{path}: an RSA key must have at least 2048 bits")
        return "RS256"
    raise KeyConfigError(f"{path}: only Ed25519 (EdDSA) and RSA (RS256) keys are accepted")


def _pem_blocks(text: str) -> list[str]:
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("-----BEGIN"):
            current = [line]
        elif current:
            current.append(line)
            if line.startswith("-----END"):
                blocks.append("\n".join(current))
                current = []
    return blocks


# --- minting -----------------------------------------------------------------------------------


class TokenSigner:
    """Mints tokens with an HS256 secret or an Ed25519 private key: for operators, service
    accounts, the CLI, tests and load harnesses. A production web app's identity provider mints
    its own, signed with the private half of a key in BATON_AUTH_PUBLIC_KEYS."""

    def __init__(
        self,
        key: Any,
        algorithm: str,
        *,
        key_id: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> None:
        self._key = key
        # What `iat` and `exp` count from; a test may set another.
        self.clock: Clock = utc_now
        self._algorithm = algorithm
        self._headers = {"kid": key_id} if key_id else None
        self._issuer = issuer or None
        self._audience = audience or None

    @classmethod
    def from_secret(cls, secret: str, **claims: str | None) -> TokenSigner:
        return cls(hmac_key(secret).key, "HS256", **claims)

    @classmethod
    def from_private_key_file(cls, path: Path, **claims: str | None) -> TokenSigner:
        try:
            private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise KeyConfigError(f"{path}: not a readable PEM private key ({exc})") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyConfigError(f"{path}: signing here takes an Ed25519 private key")
        return cls(private, "EdDSA", **claims)

    def mint(
        self,
        subject: int | str,
        *,
        ttl_seconds: float = 3600,
        operator: bool = False,
        not_before: float | None = None,
    ) -> str:
        now = int(self.clock().timestamp())
        claims: dict[str, Any] = {
            "sub": str(subject),
            "iat": now,
            "nbf": int(not_before) if not_before is not None else now,
            "exp": now + int(ttl_seconds),
        }
        if operator:
            claims[OPERATOR_CLAIM] = True
        if self._issuer:
            claims["iss"] = self._issuer
        if self._audience:
            claims["aud"] = self._audience
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=self._headers)

    def header(self, subject: int | str, **options: Any) -> dict[str, str]:
        """NATS headers carrying a fresh token for `subject`."""
        return {AUTHORIZATION_HEADER: BEARER + self.mint(subject, **options)}


# --- from settings -----------------------------------------------------------------------------


def configured_secret(settings: CommonSettings) -> str | None:
    if settings.auth_secret:
        return settings.auth_secret
    if settings.auth_secret_file:
        try:
            return Path(settings.auth_secret_file).read_text().strip()
        except OSError as exc:
            raise KeyConfigError(f"{settings.auth_secret_file}: {exc.strerror}") from None
    return None


def verifier_from_settings(settings: CommonSettings) -> TokenVerifier:
    """The services' verifier; a service with no key configured does not start."""
    keys: list[VerificationKey] = []
    secret = configured_secret(settings)
    if secret is not None:
        keys.append(hmac_key(secret))
    for name in filter(None, (p.strip() for p in settings.auth_public_keys.split(","))):
        keys.extend(public_keys_from_file(Path(name)))
    if not keys:
        raise KeyConfigError(
            "no way to verify callers: set BATON_AUTH_PUBLIC_KEYS (production) or "
            "BATON_AUTH_SECRET / BATON_AUTH_SECRET_FILE (local use)"
        )
    return TokenVerifier(
        keys,
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        max_lifetime_seconds=settings.auth_max_token_seconds,
    )


def signer_from_settings(settings: CommonSettings) -> TokenSigner:
    claims = {"issuer": settings.auth_issuer, "audience": settings.auth_audience}
    if settings.auth_signing_key_file:
        return TokenSigner.from_private_key_file(Path(settings.auth_signing_key_file), **claims)
    secret = configured_secret(settings)
    if secret is None:
        raise KeyConfigError(
            "no signing key: set BATON_AUTH_SIGNING_KEY_FILE (Ed25519) or BATON_AUTH_SECRET"
        )
    return TokenSigner.from_secret(secret, **claims)
