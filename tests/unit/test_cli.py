from __future__ import annotations

import pytest

from shared.cli import exit_codes
from shared.cli.main import build_parser, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == exit_codes.OK
    out = capsys.readouterr().out
    for command in ("up", "migrate", "service", "status"):
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
