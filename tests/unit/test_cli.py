from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import jwt
import pytest
import yaml

from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import ensure_dev_secret
from shared.runtime.tokens import Identity, TokenVerifier, hmac_key
from tools.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == exit_codes.OK
    out = capsys.readouterr().out
    for command in ("up", "migrate", "service", "status", "token"):
        assert command in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == exit_codes.USAGE
    assert "invalid choice" in capsys.readouterr().err


def test_service_names_are_checked() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["service", "mailer"])


def test_bad_setting_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", "mysql://nope")
    assert main(["migrate"]) == exit_codes.USAGE
    assert "BATON_DATABASE_URL must be a postgresql:// URL" in capsys.readouterr().err


# --- who is calling: `baton token`, `--as`, BATON_TOKEN ------------------------------------------

SECRET = "unit-test-cli-secret-0123456789abcdef-0123456789"


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key in the environment, and a working directory without a `.baton` of its own."""
    for name in [n for n in os.environ if n.startswith("BATON_AUTH_")] + ["BATON_TOKEN"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _verified(token: str, secret: str = SECRET) -> Identity:
    return TokenVerifier([hmac_key(secret)]).verify("Bearer " + token.strip())


def _lifetime(token: str) -> int:
    claims = jwt.decode(token.strip(), options={"verify_signature": False})
    return int(claims["exp"]) - int(claims["iat"])


def test_token_names_the_user_and_verifies_with_the_configured_secret(
    no_key: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_AUTH_SECRET", SECRET)
    assert main(["token", "--user", "7"]) == exit_codes.OK
    token = capsys.readouterr().out
    assert _verified(token) == Identity(subject="7", user_id=7)
    assert _lifetime(token) == 3600  # an hour unless told otherwise


def test_operator_token_is_the_operator(
    no_key: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_AUTH_SECRET", SECRET)
    assert main(["token", "--operator"]) == exit_codes.OK
    identity = _verified(capsys.readouterr().out)
    assert identity.operator and identity.user_id is None


@pytest.mark.parametrize(("ttl", "seconds"), [("90s", 90), ("30m", 1800), ("1h", 3600),
                                              ("1d", 86400), ("45", 45)])  # fmt: skip
def test_token_ttl_forms(
    ttl: str, seconds: int, no_key: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("BATON_AUTH_SECRET", SECRET)
    assert main(["token", "--user", "1", "--ttl", ttl]) == exit_codes.OK
    assert _lifetime(capsys.readouterr().out) == seconds


def test_a_token_longer_than_the_services_take_is_not_minted(
    no_key: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_AUTH_SECRET", SECRET)
    assert main(["token", "--user", "1", "--ttl", "7d"]) == exit_codes.USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and "BATON_AUTH_MAX_TOKEN_SECONDS" in captured.err
    monkeypatch.setenv("BATON_AUTH_MAX_TOKEN_SECONDS", str(7 * 86400))
    assert main(["token", "--user", "1", "--ttl", "7d"]) == exit_codes.OK
    assert _lifetime(capsys.readouterr().out) == 7 * 86400


@pytest.mark.parametrize(
    "argv",
    [
        ["token"],  # for whom?
        ["token", "--user", "1", "--operator"],
        ["token", "--user", "0"],
        ["token", "--user", "1", "--ttl", "1w"],
        ["token", "--user", "1", "--ttl", "0s"],
    ],
)
def test_token_usage_errors(argv: list[str], no_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_AUTH_SECRET", SECRET)
    assert main(argv) == exit_codes.USAGE


def test_token_falls_back_to_the_development_secret_of_baton_up(
    no_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = no_key / "elsewhere"
    secret = ensure_dev_secret(data_dir).read_text().strip()
    assert main(["token", "--user", "3", "--data-dir", str(data_dir)]) == exit_codes.OK
    assert _verified(capsys.readouterr().out, secret).user_id == 3
    # The default folder is ./.baton, as for `baton up`.
    default_secret = ensure_dev_secret(no_key / ".baton").read_text().strip()
    assert main(["token", "--user", "4"]) == exit_codes.OK
    assert _verified(capsys.readouterr().out, default_secret).user_id == 4


def test_token_without_any_key_says_how_to_configure_one(
    no_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--user", "1"]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert "BATON_AUTH_SECRET" in err and "baton up" in err


def test_the_development_secret_is_written_once_private_and_reused(no_key: Path) -> None:
    path = ensure_dev_secret(no_key / "data")
    first = path.read_text()
    assert len(first.strip()) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_dev_secret(no_key / "data") == path and path.read_text() == first
    assert [p.name for p in (no_key / "data").iterdir()] == ["auth-secret"]  # no draft left


def test_an_admin_command_without_a_caller_is_a_usage_error(
    no_key: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens there: a usage error must come before any attempt to connect.
    monkeypatch.setenv("BATON_NATS_URL", "nats://127.0.0.1:1")
    monkeypatch.setenv("BATON_AUTH_SECRET", SECRET)
    assert main(["campaign", "invite", "1"]) == exit_codes.USAGE
    err = capsys.readouterr().err
    assert "--as" in err and "BATON_TOKEN" in err


def test_as_needs_a_user_id_or_operator_and_a_key(
    no_key: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_NATS_URL", "nats://127.0.0.1:1")
    assert main(["stats", "1", "--as", "olivia"]) == exit_codes.USAGE
    assert "a user id (1 or more) or `operator`" in capsys.readouterr().err
    assert main(["stats", "1", "--as", "1"]) == exit_codes.USAGE  # no key to mint with
    assert "no key to sign tokens with" in capsys.readouterr().err


def test_version_names_the_release_of_the_one_declaration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--version"]) == exit_codes.OK
    printed = capsys.readouterr().out.strip()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert printed == f"baton {declared}"
    # The production overlay deploys the image of this release, and the changelog records it.
    overlay = yaml.safe_load(
        (ROOT / "deploy/k8s/overlays/production/kustomization.yaml").read_text()
    )
    assert [image["newTag"] for image in overlay["images"]] == [declared]
    assert f"\n## {declared} " in (ROOT / "CHANGELOG.md").read_text()
