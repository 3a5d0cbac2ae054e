"""Who a client's requests come from: the bearer token every request but `baton.status.*` carries.

A client either holds a token someone gave it (`BATON_TOKEN`: a web app's identity provider, an
operator handing out access) or mints its own with a signing key it holds. The key is the one in
the environment (shared/runtime/tokens.py `signer_from_settings`), else the development secret
`baton up` writes under its data folder, so `baton up` in one shell and `baton ... --as 1` in
another work with nothing configured.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from shared.runtime.client import Credentials
from shared.runtime.settings import CommonSettings
from shared.runtime.tokens import (
    AUTHORIZATION_HEADER,
    BEARER,
    KeyConfigError,
    TokenSigner,
    configured_secret,
    signer_from_settings,
)

OPERATOR: Literal["operator"] = "operator"
DEFAULT_DATA_DIR = Path(".baton")
DEV_SECRET_FILE = "auth-secret"
TOKEN_VARIABLE = "BATON_TOKEN"
# The variables that give services a key; with none of them, `baton up` makes a development one.
SERVICE_KEY_VARIABLES = ("BATON_AUTH_SECRET", "BATON_AUTH_SECRET_FILE", "BATON_AUTH_PUBLIC_KEYS")
# A token minted for one command lives this long, and is minted again at half its life, so a
# long import or simulation never sends one that has run out.
SHORT_TTL_SECONDS = 300.0
User = int | Literal["operator"]


class UsageError(ValueError):
    """The command cannot say who is calling; exit code 2 with this message."""


class GivenToken:
    """A token minted elsewhere, sent as it is."""

    def __init__(self, token: str) -> None:
        token = token.strip()
        if not token.startswith(BEARER):
            token = BEARER + token
        self._headers = {AUTHORIZATION_HEADER: token}

    def headers(self) -> dict[str, str]:
        return self._headers


class SignedAs:
    """Tokens for one caller, minted here and minted again before they run out."""

    def __init__(
        self, signer: TokenSigner, user: User, ttl_seconds: float = SHORT_TTL_SECONDS
    ) -> None:
        self._signer = signer
        self.user = user
        self._ttl = ttl_seconds
        self._headers: dict[str, str] = {}
        self._renew_at = 0.0

    def headers(self) -> dict[str, str]:
        now = time.monotonic()
        if now >= self._renew_at:
            self._headers = self._signer.header(
                self.user, ttl_seconds=self._ttl, operator=self.user == OPERATOR
            )
            self._renew_at = now + self._ttl / 2
        return self._headers


# --- keys ----------------------------------------------------------------------------------------


def dev_secret_path(data_dir: Path) -> Path:
    return data_dir / DEV_SECRET_FILE


def services_have_a_key(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) for name in SERVICE_KEY_VARIABLES)


def ensure_dev_secret(data_dir: Path) -> Path:
    """The development secret under `data_dir`: created once (mode 0600), then reused, so tokens
    minted yesterday still verify after a restart."""
    return written_once(dev_secret_path(data_dir), lambda: secrets.token_urlsafe(48))


def written_once(path: Path, make: Callable[[], str]) -> Path:
    """`path`, holding what `make` made the first time (mode 0600), and never rewritten."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under another name, then linked into place: a reader never sees half a
    # secret, and two `baton up`s starting at once agree on the one that got there first.
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(make() + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path


def _no_key(data_dir: Path) -> KeyConfigError:
    return KeyConfigError(
        "no key to sign tokens with: set BATON_AUTH_SECRET (or BATON_AUTH_SECRET_FILE, or "
        "BATON_AUTH_SIGNING_KEY_FILE for an Ed25519 key) to the key the services verify with, "
        f"or run `baton up --data-dir {data_dir}` with no key set, which writes a development "
        f"secret to {dev_secret_path(data_dir)} (a `baton up` given a key in its environment "
        f"needs the same key here); or set {TOKEN_VARIABLE} to a token you were given"
    )


def local_signer(settings: CommonSettings, data_dir: Path = DEFAULT_DATA_DIR) -> TokenSigner:
    """The key configured in the environment, else the development secret of `baton up`."""
    if settings.auth_signing_key_file or configured_secret(settings) is not None:
        return signer_from_settings(settings)
    path = dev_secret_path(data_dir)
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        raise _no_key(data_dir) from None
    except OSError as exc:
        raise KeyConfigError(f"{path}: {exc.strerror}") from None
    return TokenSigner.from_secret(
        secret, issuer=settings.auth_issuer, audience=settings.auth_audience
    )


# --- `--as USER` ---------------------------------------------------------------------------------


def user_or_operator(value: str) -> User:
    """`--as`: a Baton user id, or `operator`."""
    if value == OPERATOR:
        return OPERATOR
    with contextlib.suppress(ValueError):
        if int(value) >= 1:
            return int(value)
    raise argparse.ArgumentTypeError("a user id (1 or more) or `operator`")


def add_caller_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="as_user",
        type=user_or_operator,
        metavar="USER",
        help=f"who is calling: a user id, or `operator`; mints a short-lived token with the local"
        f" key (without it, ${TOKEN_VARIABLE} is sent)",
    )
    add_data_dir(parser)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """`--data-dir`: the `baton up` a command works beside (its servers, its development key)."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="the data folder of the `baton up` to work beside: its servers, when BATON_NATS_URL "
        "and BATON_DATABASE_URL name none, and its development key, when no key is configured "
        "(default .baton)",
    )


def credentials_from_args(args: argparse.Namespace, settings: CommonSettings) -> Credentials:
    """`--as USER` mints with the local key; else BATON_TOKEN; else a usage error."""
    if args.as_user is not None:
        return SignedAs(local_signer(settings, args.data_dir), args.as_user)
    given = os.environ.get(TOKEN_VARIABLE, "").strip()
    if given:
        return GivenToken(given)
    raise UsageError(
        f"say who is calling: --as USER_ID (or --as operator) mints a token with the local key,"
        f" or set {TOKEN_VARIABLE} to a token you were given (`baton token --user N` makes one)"
    )


# --- `baton token --ttl` -------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: str) -> float:
    """`90s`, `30m`, `1h`, `7d`, or plain seconds."""
    found = re.fullmatch(r"(\d+)([smhd]?)", value.strip())
    if found is None or int(found.group(1)) == 0:
        raise argparse.ArgumentTypeError("a duration such as 90s, 30m, 1h or 7d")
    return float(int(found.group(1)) * _UNITS[found.group(2) or "s"])
