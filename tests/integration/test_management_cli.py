"""Issue #33's commands against a running assigner, over real NATS, as `--as` names: request
levels and waiting requests, team settings and campaigns limited to teams, the reads, and
`baton export` downloading a filtered CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import asyncpg
import pytest

from shared.contract import catalogue as api
from shared.runtime.commands import exit_codes
from tests.integration.test_admin_cli import _baton
from tests.integration.test_contacts_import_cli import cli_environment
from tests.support.baton_client import Baton, campaign_with_texters

pytestmark = pytest.mark.integration
# The CLI signs with the secret the test services verify and talks to the test NATS.
__all__ = ["cli_environment"]


async def test_request_levels_and_waiting_requests_from_the_command_line(
    assigner: Baton, capsys: pytest.CaptureFixture[str]
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=5, batch_size=5)
    owner, texter = str(c["owner"]), c["texters"][0]
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    code, out, _ = await _baton(capsys, "user", "level", str(texter), "--org", str(c["org"]),
                                "--level", "approval_required", "--as", owner, "--json")  # fmt: skip
    assert code == exit_codes.OK and json.loads(out)["request_level"] == "approval_required"
    waiting = await assigner.call(api.ASSIGN_REQUEST, as_user=texter, campaign_id=c["campaign"])
    code, out, _ = await _baton(capsys, "requests", "list", "--org", str(c["org"]), "--status",
                                "pending", "--as", owner, "--json")  # fmt: skip
    assert [r["request_id"] for r in json.loads(out)["requests"]] == [waiting["request_id"]]
    code, out, _ = await _baton(capsys, "requests", "resolve", str(waiting["request_id"]),
                                "--approve", "--level", "auto_approve", "--as", owner,
                                "--json")  # fmt: skip
    resolved = json.loads(out)
    assert code == exit_codes.OK and resolved["status"] == "fulfilled"
    assert len(resolved["conversation_ids"]) == 5
    code, _, err = await _baton(capsys, "requests", "resolve", str(waiting["request_id"]),
                                "--reject", "--as", owner)  # fmt: skip
    assert code == exit_codes.REFUSED and "conflict" in err


async def test_teams_reads_and_an_export_from_the_command_line(
    assigner: Baton, pool: asyncpg.Pool, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    c = await campaign_with_texters(assigner, texters=1, contacts=6, batch_size=2)
    owner, org = str(c["owner"]), str(c["org"])
    await assigner.call(api.CAMPAIGN_UPDATE, as_user=c["owner"], campaign_id=c["campaign"],
                        texting_hours={"start": 0, "end": 24})  # fmt: skip
    team = (await assigner.call(api.TEAM_CREATE, as_user=c["owner"], org_id=c["org"],
                                name="Phones"))["team_id"]  # fmt: skip
    code, out, _ = await _baton(capsys, "team", "update", str(team), "--priority", "4", "--kind",
                                "initials", "--max-size", "none", "--as", owner, "--json")  # fmt: skip
    assert code == exit_codes.OK and json.loads(out)["assignment_priority"] == 4
    code, out, _ = await _baton(capsys, "campaign", "create", "--org", org, "--title", "Teams",
                                "--team", str(team), "--as", owner, "--json")  # fmt: skip
    created = json.loads(out)["campaign_id"]
    code, out, _ = await _baton(capsys, "campaign", "update", str(created), "--teams", "none",
                                "--as", owner, "--json")  # fmt: skip
    assert json.loads(out)["team_ids"] == []
    code, out, _ = await _baton(capsys, "org", "campaigns", org, "--as", owner, "--json")
    assert [x["campaign_id"] for x in json.loads(out)["campaigns"]] == [c["campaign"], created]
    code, out, _ = await _baton(capsys, "team", "list", "--org", org, "--as", owner, "--json")
    assert json.loads(out)["teams"][0]["assignment_kind"] == "initials"
    await assigner.call(api.CAMPAIGN_INVITE, as_user=c["owner"], campaign_id=c["campaign"],
                        kind="initials")  # fmt: skip
    code, out, _ = await _baton(capsys, "campaign", "invites", str(c["campaign"]), "--as", owner,
                                "--json")  # fmt: skip
    assert len(json.loads(out)["invites"]) == 1
    # Two conversations sent and awaiting a reply: the export of those alone.
    batch = await assigner.call(api.ASSIGN_REQUEST, as_user=c["texters"][0],
                                campaign_id=c["campaign"])  # fmt: skip
    await pool.execute("UPDATE conversation SET status = 'awaiting_reply' WHERE id = ANY($1)",
                       batch["conversation_ids"])  # fmt: skip
    path = tmp_path / "awaiting.csv"
    code, out, err = await _baton(capsys, "export", str(c["campaign"]), "--conversations",
                                  "--status", "awaiting_reply", "--since",
                                  "2000-01-01T00:00:00Z", "-o", str(path), "--as", owner,
                                  "--json")  # fmt: skip
    assert code == exit_codes.OK, err
    assert json.loads(out)["row_count"] == 2 and "rows" in err  # the progress line
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(int(r["conversation_id"]) for r in rows) == batch["conversation_ids"]
    code, _, err = await _baton(capsys, "export", str(c["campaign"]), "--messages", "--since",
                                "yesterday", "-o", str(path), "--as", owner)  # fmt: skip
    assert code == exit_codes.USAGE
    # An output the CLI cannot write is a local usage error, found before any export starts.
    exports = await pool.fetchval("SELECT count(*) FROM campaign_export")
    for bad in (tmp_path / "missing" / "x.csv", tmp_path):
        code, _, err = await _baton(capsys, "export", str(c["campaign"]), "--messages", "-o",
                                    str(bad), "--as", owner)  # fmt: skip
        assert code == exit_codes.USAGE and f"cannot write {bad}" in err, err
    assert await pool.fetchval("SELECT count(*) FROM campaign_export") == exports
