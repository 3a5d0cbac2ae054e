"""Service settings: one frozen object per service, read from `BATON_*` environment variables.

Every field has a default that works on a developer machine; a bad value stops the service at
start with a message naming the variable, instead of failing later in some handler.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from shared.runtime.failpoints import parse_points

ENV_PREFIX = "BATON_"
# What every reply subject looks like, whatever its connection's prefix: `_INBOX.` or
# `_INBOX_<user>.`, then more tokens. Services answer nowhere else (shared/runtime/endpoints.py).
INBOX_REPLY = re.compile(r"_INBOX(?:_[^.\s*>]+)?\.[^\s*>]+")
# Dot-separated subject tokens: none empty, no wildcard characters, no whitespace or controls.
_INBOX_PREFIX = re.compile(r"[^\s\x00-\x1f\x7f.*>]+(?:\.[^\s\x00-\x1f\x7f.*>]+)*")
# The largest message NATS carries, the one declaration: every shipped nats-server config says
# `max_payload` this many bytes (deploy/nats/*.conf, tools/devservers/nats.py;
# tests/unit/test_nats_max_payload.py compares), and the services accept requests up to it. NATS
# counts a message's headers in it too, so the largest request body is a little smaller.
MAX_PAYLOAD_BYTES = 1_048_576
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A `BATON_*` variable holds a value the service cannot use."""


@dataclass(frozen=True)
class CommonSettings:
    """What every Baton service needs."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/baton"
    nats_url: str = "nats://127.0.0.1:4222"
    # Optional NATS credentials (a deployment gives each service its own user).
    nats_user: str = ""
    nats_password: str = ""
    # Where this connection's replies arrive (`<prefix>.<nuid>.<token>`); empty: nats-py's
    # `_INBOX`. A client system sets the prefix its NATS user alone may subscribe to
    # (deploy/nats/nats-production.conf, docs/trust.md), e.g. `_INBOX_client`.
    nats_inbox_prefix: str = ""
    # JetStream stream replicas: 1 for a single server, 3 for a cluster.
    stream_replicas: int = 1
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9100
    log_format: str = "auto"
    log_level: str = "info"
    db_pool_min: int = 2
    db_pool_max: int = 10
    # Requests handled at once per process; more wait in a line bounded by it, and one more than
    # the line holds is answered `overloaded` at once (shared/runtime/admission.py).
    max_in_flight: int = 64
    # Largest request payload accepted, in bytes; larger ones are refused with `payload_too_large`.
    # At most what NATS carries: a larger limit would only be a promise NATS breaks.
    max_request_bytes: int = MAX_PAYLOAD_BYTES
    shutdown_grace_seconds: float = 20.0
    # How often the outbox publisher looks for rows a crashed publisher left behind, and how
    # many rows it publishes per pass.
    outbox_poll_seconds: float = 1.0
    outbox_batch: int = 500
    # How long a publisher's claim on outbox rows lasts: rows a crashed publisher leased are sent
    # again by another once it runs out.
    outbox_lease_seconds: float = 30.0
    # Who is calling (shared/runtime/tokens.py). Services need one of: an HS256 secret (local use
    # and tests; at least 32 bytes), directly or in a file, or public keys (production:
    # comma-separated PEM or JWKS files, Ed25519 or RSA; several at once while a signing key is
    # rotated).
    auth_secret: str = ""
    auth_secret_file: str = ""
    auth_public_keys: str = ""
    # Checked when set: tokens must carry this `iss` and this `aud`.
    auth_issuer: str = ""
    auth_audience: str = ""
    # Minting only (`baton token`, `--as USER`): an Ed25519 private key instead of the secret.
    auth_signing_key_file: str = ""
    # The longest a token may live: one whose `exp` is further than this from its `iat` (or from
    # now) is refused, so a leaked token, or one minted by mistake for year 9999, stops working
    # within this time and is not remembered (shared/runtime/tokens.py) beyond it.
    auth_max_token_seconds: int = 86_400
    # Fault tests only (see shared/runtime/failpoints.py): points where the process kills itself,
    # and the directory that makes each fire once. Empty in any real deployment.
    crash_points: str = ""
    crash_once_dir: str = ""

    def validate(self) -> None:
        require(self.log_format in LOG_FORMATS, "log_format", f"one of {', '.join(LOG_FORMATS)}")
        require(self.log_level in LOG_LEVELS, "log_level", f"one of {', '.join(LOG_LEVELS)}")
        require(0 <= self.metrics_port <= 65535, "metrics_port", "a port from 0 to 65535")
        require(1 <= self.db_pool_min <= self.db_pool_max, "db_pool_min", "1..db_pool_max")
        require(self.db_pool_max <= 500, "db_pool_max", "at most 500")
        require(1 <= self.max_in_flight <= 10_000, "max_in_flight", "1..10000")
        require(
            1024 <= self.max_request_bytes <= MAX_PAYLOAD_BYTES,
            "max_request_bytes",
            f"1024..{MAX_PAYLOAD_BYTES} (NATS max_payload)",
        )
        require(self.stream_replicas in (1, 3, 5), "stream_replicas", "1, 3 or 5")
        require(self.outbox_poll_seconds > 0, "outbox_poll_seconds", "greater than 0")
        require(1 <= self.outbox_batch <= 10_000, "outbox_batch", "1..10000")
        require(self.outbox_lease_seconds > 0, "outbox_lease_seconds", "greater than 0")
        require(
            60 <= self.auth_max_token_seconds <= 366 * 86_400,
            "auth_max_token_seconds",
            "60..31622400 (a year)",
        )
        try:
            parse_points(self.crash_points)
        except ValueError as exc:
            raise SettingsError(f"{ENV_PREFIX}CRASH_POINTS: {exc}") from None
        require(self.shutdown_grace_seconds > 0, "shutdown_grace_seconds", "greater than 0")
        require(
            self.database_url.startswith(("postgresql://", "postgres://")),
            "database_url",
            "a postgresql:// URL",
        )
        require(self.nats_url.startswith(("nats://", "tls://")), "nats_url", "a nats:// URL")
        prefix = self.nats_inbox_prefix
        require(
            not prefix
            or (
                _INBOX_PREFIX.fullmatch(prefix) is not None
                and bool(INBOX_REPLY.match(prefix + ".x"))
            ),
            "nats_inbox_prefix",
            "empty, `_INBOX` or `_INBOX_<name>`, optionally followed by more dot-joined tokens, "
            "without wildcards (* >) or spaces",
        )


SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def load_settings(kind: type[SettingsT], environ: Mapping[str, str] | None = None) -> SettingsT:
    """Build `kind` from `BATON_<FIELD>` variables, falling back to each field's default."""
    env = os.environ if environ is None else environ
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(kind):
        raw = env.get(ENV_PREFIX + field.name.upper())
        if raw is None or raw == "":
            continue
        values[field.name] = _parse(field.name, raw, hints[field.name])
    settings = kind(**values)
    settings.validate()
    return settings


def _parse(name: str, raw: str, kind: type) -> object:
    variable = ENV_PREFIX + name.upper()
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        return raw
    except ValueError:
        raise SettingsError(f"{variable}={raw!r} is not a valid {kind.__name__}") from None


def require(condition: bool, name: str, expected: str) -> None:
    if not condition:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be {expected}")
