"""The `baton` administration commands against a running assigner, over real NATS."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from shared.cli import exit_codes
from shared.cli.main import main
from shared.settings import CommonSettings
from tests.support.baton_client import Baton

pytestmark = pytest.mark.integration


async def _baton(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_set_up_a_campaign_and_import_a_csv_from_the_command_line(
    assigner: Baton, settings: CommonSettings, pool: asyncpg.Pool, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("BATON_NATS_URL", settings.nats_url)
    code, out, _ = await _baton(capsys, "org", "create", "Bartlett 2020", "--json")
    assert code == exit_codes.OK
    org = json.loads(out)["org_id"]
    code, out, _ = await _baton(capsys, "user", "create", "--org", str(org), "--name", "Olivia",
                                "--role", "owner", "--json")  # fmt: skip
    owner = json.loads(out)["user_id"]
    code, out, _ = await _baton(capsys, "campaign", "create", "--org", str(org), "--title", "Rally",
                                "--actor", str(owner), "--hours", "8-20", "--json")  # fmt: skip
    campaign = json.loads(out)["campaign_id"]
    code, out, _ = await _baton(capsys, "campaign", "update", str(campaign), "--actor", str(owner),
                                "--status", "active", "--self-assign", "on", "--batch-size", "25",
                                "--release-after", "30")  # fmt: skip
    assert code == exit_codes.OK
    assert "batch_size" in out and "25" in out  # readable lines, not JSON
    code, out, _ = await _baton(capsys, "campaign", "update", str(campaign), "--actor", str(owner),
                                "--batch-size", "default", "--release-after", "off", "--json")  # fmt: skip
    updated = json.loads(out)
    assert (updated["batch_size"], updated["release_unhandled_after_minutes"]) == (300, None)
    assert updated["texting_hours"] == {"start": 8, "end": 20} and updated["self_assign"] is True

    lines = ["phone,first_name,last_name,ward"]
    lines += [f"+1415555{n:04d},Voter,{n},{n % 7}" for n in range(2500)]
    lines += ["+14155550001,Again,Dup,1", "not a phone,Bad,Row,1"]
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    code, out, err = await _baton(capsys, "contacts", "import", str(csv_path), "--campaign", str(campaign),
                                  "--actor", str(owner), "--chunk", "1000", "--json")  # fmt: skip
    assert code == exit_codes.OK, err
    summary = json.loads(out)
    assert (summary["rows"], summary["imported"], summary["rejected"]) == (2502, 2500, 2)
    assert summary["rejected_by_reason"] == {"duplicate": 1, "invalid_phone": 1}
    assert [r["line"] for r in summary["first_rejections"]] == [2502, 2503]
    assert "2,502 rows read" in err  # progress on stderr
    ward = await pool.fetchval("SELECT fields->>'ward' FROM contact WHERE phone = '+14155550010'")
    assert ward == "3"

    code, out, _ = await _baton(capsys, "stats", str(campaign), "--json")
    assert json.loads(out)["unassigned_by_status"]["not_started"] == 2500
    # A refusal is exit code 4 with Baton's message.
    texter = json.loads((await _baton(capsys, "user", "create", "--org", str(org), "--name", "Tex",
                                      "--role", "texter", "--actor", str(owner), "--json"))[1])["user_id"]  # fmt: skip
    code, _, err = await _baton(
        capsys, "org", "update", str(org), "--actor", str(texter), "--batch-size", "10"
    )
    assert code == exit_codes.REFUSED
    assert "forbidden" in err


async def test_unreachable_nats_is_a_dependency_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATON_NATS_URL", "nats://127.0.0.1:1")
    code, _, err = await _baton(capsys, "stats", "1")
    assert code == exit_codes.DEPENDENCY
    assert "cannot reach Baton" in err
