"""The `baton` administration commands against a running assigner, over real NATS, each as the
caller `--as` names (a token minted with the key the services verify) or `BATON_TOKEN` says."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import asyncpg
import pytest

from shared.contract import catalogue as api
from shared.runtime.commands import exit_codes
from shared.runtime.settings import CommonSettings
from shared.runtime.tokens import TokenSigner
from tests.support.baton_client import TEST_AUTH_SECRET, Baton, campaign_with_texters
from tools.cli.main import main

pytestmark = pytest.mark.integration


async def _baton(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI signs with the secret the test services verify, and nothing else is configured."""
    for name in [n for n in os.environ if n.startswith("BATON_AUTH_")] + ["BATON_TOKEN"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_AUTH_SECRET", TEST_AUTH_SECRET)
    monkeypatch.chdir(tmp_path)


async def test_set_up_a_campaign_and_import_a_csv_from_the_command_line(
    assigner: Baton, settings: CommonSettings, pool: asyncpg.Pool, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("BATON_NATS_URL", settings.nats_url)
    code, out, _ = await _baton(
        capsys, "org", "create", "Bartlett 2020", "--as", "operator", "--json"
    )
    assert code == exit_codes.OK
    org = json.loads(out)["org_id"]
    code, out, _ = await _baton(capsys, "user", "create", "--org", str(org), "--name", "Olivia",
                                "--role", "owner", "--as", "operator", "--json")  # fmt: skip
    owner = json.loads(out)["user_id"]
    code, out, _ = await _baton(capsys, "campaign", "create", "--org", str(org), "--title", "Rally",
                                "--as", str(owner), "--hours", "8-20", "--json")  # fmt: skip
    campaign = json.loads(out)["campaign_id"]
    code, out, _ = await _baton(capsys, "campaign", "update", str(campaign), "--as", str(owner),
                                "--status", "active", "--self-assign", "on", "--batch-size", "25",
                                "--release-after", "30")  # fmt: skip
    assert code == exit_codes.OK
    assert "batch_size" in out and "25" in out  # readable lines, not JSON
    code, out, _ = await _baton(capsys, "campaign", "update", str(campaign), "--as", str(owner),
                                "--batch-size", "default", "--release-after", "off", "--json")  # fmt: skip
    updated = json.loads(out)
    assert (updated["batch_size"], updated["release_unhandled_after_minutes"]) == (300, None)
    assert updated["texting_hours"] == {"start": 8, "end": 20} and updated["self_assign"] is True
    code, out, _ = await _baton(capsys, "campaign", "update", str(campaign), "--as", str(owner),
                                "--closing-margin", "15", "--fallback-zone", "America/Denver",
                                "--json")  # fmt: skip
    updated = json.loads(out)
    assert (updated["closing_margin_minutes"], updated["fallback_zone"]) == (15, "America/Denver")

    lines = ["phone,first_name,last_name,ward"]
    lines += [f"+1415555{n:04d},Voter,{n},{n % 7}" for n in range(2500)]
    lines += ["+14155550001,Again,Dup,1", "not a phone,Bad,Row,1"]
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    code, out, err = await _baton(capsys, "contacts", "import", str(csv_path), "--campaign", str(campaign),
                                  "--as", str(owner), "--chunk", "1000", "--json")  # fmt: skip
    assert code == exit_codes.OK, err
    summary = json.loads(out)
    assert (summary["rows"], summary["imported"], summary["rejected"]) == (2502, 2500, 2)
    assert summary["rejected_by_reason"] == {"duplicate": 1, "invalid_phone": 1}
    assert [r["line"] for r in summary["first_rejections"]] == [2502, 2503]
    assert "2,502 rows read" in err  # progress on stderr
    ward = await pool.fetchval("SELECT fields->>'ward' FROM contact WHERE phone = '+14155550010'")
    assert ward == "3"

    code, out, _ = await _baton(capsys, "stats", str(campaign), "--as", str(owner), "--json")
    assert json.loads(out)["unassigned_by_status"]["not_started"] == 2500
    # A refusal is exit code 4 with Baton's message.
    texter = json.loads((await _baton(capsys, "user", "create", "--org", str(org), "--name", "Tex",
                                      "--role", "texter", "--as", str(owner), "--json"))[1])["user_id"]  # fmt: skip
    code, _, err = await _baton(
        capsys, "org", "update", str(org), "--as", str(texter), "--batch-size", "10"
    )
    assert code == exit_codes.REFUSED
    assert "forbidden" in err
    # Only the operator creates organizations, not even an owner.
    code, _, err = await _baton(capsys, "org", "create", "Another", "--as", str(owner))
    assert (code, "forbidden" in err) == (exit_codes.REFUSED, True)


async def test_a_token_given_in_baton_token_is_who_calls(
    assigner: Baton, settings: CommonSettings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("BATON_NATS_URL", settings.nats_url)
    code, token, _ = await _baton(capsys, "token", "--operator", "--ttl", "5m")
    assert code == exit_codes.OK
    # One the services would refuse for living too long is not made at all.
    code, refused, err = await _baton(capsys, "token", "--operator", "--ttl", "2d")
    assert (code, refused, "BATON_AUTH_MAX_TOKEN_SECONDS" in err) == (exit_codes.USAGE, "", True)
    # Someone handed us an operator token; no key of our own is needed to use it.
    monkeypatch.setenv("BATON_TOKEN", token.strip())
    monkeypatch.delenv("BATON_AUTH_SECRET")
    code, out, err = await _baton(capsys, "org", "create", "Given", "--json")
    assert code == exit_codes.OK, err
    org = json.loads(out)["org_id"]
    code, _, err = await _baton(capsys, "stats", "1")  # the operator may do nothing else
    assert (code, "forbidden" in err) == (exit_codes.REFUSED, True)
    # A token signed with another key is sent as given, and Baton refuses it.
    forged = TokenSigner.from_secret("not-the-services-secret-0123456789abcdef")
    monkeypatch.setenv("BATON_TOKEN", forged.mint("operator", operator=True))
    code, _, err = await _baton(capsys, "user", "create", "--org", str(org), "--name", "Mallory",
                                "--role", "owner")  # fmt: skip
    assert (code, "unauthenticated" in err) == (exit_codes.REFUSED, True)
    # `--as` wins over BATON_TOKEN, and needs the key.
    code, _, err = await _baton(capsys, "stats", "1", "--as", "1")
    assert code == exit_codes.USAGE and "no key to sign tokens with" in err


async def test_unreachable_nats_is_a_dependency_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_NATS_URL", "nats://127.0.0.1:1")
    code, _, err = await _baton(capsys, "stats", "1", "--as", "1")
    assert code == exit_codes.DEPENDENCY
    assert "cannot reach Baton" in err


async def test_reassign_move_and_release_from_the_command_line(
    assigner: Baton, reaper: Baton, settings: CommonSettings, pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("BATON_NATS_URL", settings.nats_url)
    c = await campaign_with_texters(assigner, texters=2, contacts=6, batch_size=4)
    first, second = c["texters"]
    owner, campaign = str(c["owner"]), str(c["campaign"])
    held = (await assigner.call(api.ASSIGN_REQUEST, as_user=first,
                                campaign_id=c["campaign"]))["conversation_ids"]  # fmt: skip
    code, out, _ = await _baton(capsys, "reassign", campaign, "--from-texter", str(first),
                                "--to", str(second), "--count", "3", "--as", owner, "--json")  # fmt: skip
    assert code == exit_codes.OK and json.loads(out)["per_texter"] == {str(second): 3}
    # Unassign All without --confirm is refused, and changes nothing.
    code, _, err = await _baton(capsys, "reassign", campaign, "--as", owner)
    assert code == exit_codes.REFUSED and "confirmation_required" in err
    code, out, _ = await _baton(capsys, "move", str(held[0]), "--to", "none", "--as", owner,
                                "--json")  # fmt: skip
    assert code == exit_codes.OK and json.loads(out)["moved"] == 1
    assert (
        await pool.fetchval("SELECT assignee_id FROM conversation WHERE id = $1", held[0]) is None
    )
    waiting = await pool.execute("UPDATE conversation SET status = 'needs_reply', "
                                 "needs_reply_since = now() WHERE assignee_id = $1", second)  # fmt: skip
    code, out, _ = await _baton(capsys, "release", "unhandled", campaign, "--as", owner, "--json")
    assert code == exit_codes.OK and json.loads(out)["released"] == int(waiting.split()[-1]) > 0
    code, out, _ = await _baton(capsys, "release", "stale-initials", campaign, "--hours", "1",
                                "--as", owner, "--json")  # fmt: skip
    assert code == exit_codes.OK and json.loads(out)["released"] == 0  # held for seconds only
