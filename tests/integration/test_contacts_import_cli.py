"""`baton contacts import` against a running assigner on real Postgres and NATS: a malformed file
is exit code 2 with a one-line reason and nothing sent; a good file goes in whole; a failure while
the import is applied (a row Postgres refuses, the connection killed) leaves nothing of it."""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.contract import catalogue as api
from shared.runtime.commands import exit_codes
from shared.runtime.settings import CommonSettings
from tests.support.baton_client import TEST_AUTH_SECRET, Baton, campaign_with_texters
from tests.support.snapshots import snapshot
from tests.support.waiting import eventually
from tools.cli.main import main

pytestmark = pytest.mark.integration

HEADER = "phone,first_name,last_name,ward\n"


def phone(n: int) -> str:
    return f"+1415{2000000 + n:07d}"


def rows(count: int, start: int = 0) -> str:
    return "".join(f"{phone(n)},Voter,{n},{n % 7}\n" for n in range(start, start + count))


@pytest.fixture(autouse=True)
def cli_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: CommonSettings
) -> None:
    """The CLI signs with the secret the test services verify and talks to the test NATS."""
    for name in [n for n in os.environ if n.startswith("BATON_AUTH_")] + ["BATON_TOKEN"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_AUTH_SECRET", TEST_AUTH_SECRET)
    monkeypatch.setenv("BATON_NATS_URL", settings.nats_url)
    monkeypatch.chdir(tmp_path)


async def baton(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def import_csv(
    capsys: pytest.CaptureFixture[str], path: Path, campaign: dict[str, Any], *extra: str
) -> tuple[int, str, str]:
    return await baton(capsys, "contacts", "import", str(path), "--campaign",
                       str(campaign["campaign"]), "--as", str(campaign["owner"]), *extra)  # fmt: skip


# name -> (the file's bytes, what its one-line reason must say)
MALFORMED: dict[str, tuple[Callable[[], bytes], list[str]]] = {
    "binary garbage": (lambda: random.Random(15).randbytes(64 * 1024), ["binary"]),
    "an Excel workbook": (lambda: b"PK\x03\x04" + random.Random(1).randbytes(4096),
                          ["ZIP archive", ".xlsx"]),
    "Latin-1": (lambda: (HEADER + "+14155550100,Jos\xe9,Ortiz,3\n").encode("latin-1"),
                ["line 2, column 17", "0xE9", "Latin-1", "'é'"]),
    "UTF-16 with its byte-order mark": (lambda: (HEADER + rows(3)).encode("utf-16"),
                                        ["UTF-16", "byte-order mark"]),
    "UTF-16 without a byte-order mark": (lambda: (HEADER + rows(3)).encode("utf-16-be"),
                                         ["UTF-16", "big-endian"]),
    "a 10 MB field": (lambda: (HEADER + rows(5) + f"{phone(9)},A,B,{'x' * 10_000_000}\n").encode(),
                      ["line 7", "field too large"]),
    "a 10 MB field over many lines": (
        lambda: (HEADER + f'{phone(9)},A,B,"' + ("y" * 999 + "\n") * 10_000 + '"\n').encode(),
        ["field too large"]),
    "a name longer than a request takes": (lambda: (HEADER + f"{phone(1)},{'N' * 201},B,1\n").encode(),
                                           ["line 2", "field too large", "`first_name`", "at most 200"]),
    "no phone column": (lambda: b"mobile,first_name\n+14155550100,Ann\n",
                        ["no `phone` column", "`mobile`"]),
    "an empty file": (lambda: b"", ["empty"]),
    "only blank lines": (lambda: b"\n\r\n\n", ["empty"]),
    "a header and no rows": (lambda: HEADER.encode(), ["no rows"]),
    "a duplicated phone header": (lambda: ("phone,first_name,phone\n" + f"{phone(1)},A,{phone(2)}\n").encode(),
                                  ["column `phone` twice", "columns 1 and 3"]),
    "a bad byte at line 11,002": (
        lambda: (HEADER + rows(11_000)).encode() + "+14155550100,Ren\xe9e,X,1\n".encode("latin-1")
        + rows(2_000, 20_000).encode(),
        ["line 11002", "0xE9", "Latin-1"]),
    "a NUL at line 8,002": (
        lambda: (HEADER + rows(8_000)).encode() + b"+14155550100,A\x00nn,X,1\n"
        + rows(2_000, 20_000).encode(),
        ["line 8002", "NUL"]),
    "more values than columns": (lambda: (HEADER + rows(2) + f"{phone(5)},A,B,1,extra\n").encode(),
                                 ["line 4", "5 values", "4 columns"]),
    "a value under an unnamed column": (lambda: f"phone,,ward\n{phone(1)},x,1\n".encode(),
                                        ["line 2", "column 2", "unnamed"]),
    "broken quoting": (lambda: (HEADER + rows(2) + f'{phone(5)},"A"B,C,1\n').encode(),
                       ["line 4", "quoting"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_a_malformed_file_is_exit_2_with_one_line_and_nothing_imported(
    case: str, assigner: Baton, pool: asyncpg.Pool, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    content, reasons = MALFORMED[case]
    path = tmp_path / "contacts.csv"
    path.write_bytes(content())
    before = await snapshot(pool)
    code, out, err = await import_csv(capsys, path, c)
    assert code == exit_codes.USAGE, err
    assert out == ""  # nothing was sent, so there is nothing to summarise
    assert err.endswith("\n") and err.count("\n") == 1, err  # one line, no traceback
    assert err.startswith(f"baton contacts import: {path}: ")
    assert err.rstrip().endswith("nothing was imported")
    for reason in reasons:
        assert reason in err, (reason, err)
    assert await snapshot(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM contact") == 0


async def test_a_large_good_file_goes_in_whole_with_every_rejection_counted(
    assigner: Baton, pool: asyncpg.Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    # Already in the campaign, and opted out of the organization: both rejected, with the row.
    await assigner.call(api.CONTACTS_IMPORT, as_user=c["owner"],
                        campaign_id=c["campaign"], contacts=[{"phone": phone(7)}])  # fmt: skip
    await pool.execute("INSERT INTO opt_out (org_id, phone) VALUES ($1, $2)", c["org"], phone(11))
    records = [f"{phone(n)},Voter,{n},{n % 7}" for n in range(30_000)]
    records[3] = f'{phone(3)},"Two\nLines",3,3'  # a quoted value over two lines of the file
    records += [
        f"{phone(20_010)},Again,Dup,1",  # row 30,000: repeated, 9,990 rows and ten parts apart
        "not a phone,Bad,Row,1",
        "+1 (415) 299-9999,,,",
        *[f"{phone(40_000 + n)},Tz,{n},1,America/Chicago" for n in range(4)],
        f"{phone(40_010)},Tz,x,1,Mars/Olympus",
    ]  # fmt: skip
    path = tmp_path / "voters.csv"
    path.write_text("phone,first_name,last_name,ward,timezone\n" + "\n".join(records) + "\n")
    total = len(records)  # 30,008

    code, out, err = await import_csv(capsys, path, c, "--chunk", "1000", "--json")
    assert code == exit_codes.OK, err
    summary = json.loads(out)
    assert summary["committed"] is True
    assert summary["rows"] == summary["rows_staged"] == total
    assert summary["rejected_by_reason"] == {
        "duplicate": 2, "opted_out": 1, "invalid_phone": 1, "invalid_timezone": 1,
    }  # fmt: skip
    assert (summary["imported"], summary["duplicates"], summary["rejected"]) == (total - 5, 2, 5)
    # Lines as in the file: the header is line 1, and row 3 takes lines 5 and 6.
    assert [(r["line"], r["reason"].split(":")[0]) for r in summary["first_rejections"]] == [
        (10, "duplicate"), (14, "opted_out"), (30_003, "duplicate"), (30_004, "invalid_phone"),
        (30_010, "invalid_timezone"),
    ]  # fmt: skip
    assert "already in the campaign" in summary["first_rejections"][0]["reason"]
    assert "repeated in this import" in summary["first_rejections"][2]["reason"]
    assert f"{total:,} rows read and checked" in err and f"{total:,} of {total:,} rows sent" in err

    in_campaign = await pool.fetchval("SELECT count(*) FROM contact WHERE campaign_id = $1",
                                      c["campaign"])  # fmt: skip
    conversations = await pool.fetchval(
        "SELECT count(*) FROM conversation WHERE campaign_id = $1 AND status = 'not_started'"
        " AND assignee_id IS NULL", c["campaign"])  # fmt: skip
    assert in_campaign == conversations == 1 + summary["imported"]
    row = await pool.fetchrow("SELECT first_name, fields FROM contact WHERE phone = $1", phone(3))
    assert row["first_name"] == "Two\nLines" and json.loads(row["fields"]) == {"ward": "3"}
    assert await pool.fetchval("SELECT first_name FROM contact WHERE phone = $1",
                               phone(20_010)) == "Voter"  # the first of the two rows wins  # fmt: skip
    assert await pool.fetchval("SELECT count(*) FROM contact WHERE phone = '+14152999999'") == 1
    assert await pool.fetchval(
        "SELECT count(*) FROM contact WHERE timezone = 'America/Chicago'") == 4  # fmt: skip
    # Nothing is left staged; the import is kept only as its answer, for a retried commit.
    assert await pool.fetchval("SELECT count(*) FROM contact_file_row") == 0
    assert await pool.fetchval("SELECT state FROM contact_file_import") == "committed"

    # The same file again: every row is already there or rejected again, none imported twice.
    code, out, err = await import_csv(capsys, path, c, "--json")
    assert code == exit_codes.OK, err
    again = json.loads(out)
    assert (again["imported"], again["rejected"]) == (0, total)
    assert await pool.fetchval("SELECT count(*) FROM contact") == in_campaign


REFUSE_ONE_ROW = """
CREATE FUNCTION refuse_one_contact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.phone = '{phone}' THEN
        RAISE EXCEPTION 'this contact is refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_one_contact BEFORE INSERT ON contact
    FOR EACH ROW EXECUTE FUNCTION refuse_one_contact();
"""


async def test_a_row_postgres_refuses_while_applying_leaves_nothing_of_the_file(
    assigner: Baton, pool: asyncpg.Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    path = tmp_path / "voters.csv"
    path.write_text(HEADER + rows(30_000))
    # Postgres itself refuses row 15,000 when the commit inserts it, after the 14,999 before it.
    await pool.execute(REFUSE_ONE_ROW.format(phone=phone(15_000)))
    before = await snapshot(pool)
    code, out, err = await import_csv(capsys, path, c, "--json")
    assert code == exit_codes.REFUSED, err
    assert err.splitlines()[-1] == (
        "baton contacts import: internal: internal error; it has been logged; nothing was imported"
    )
    summary = json.loads(out)  # the summary still prints: what was sent, and nothing imported
    assert summary["committed"] is False and summary["imported"] == 0
    assert summary["rows"] == 30_000 and summary["rows_staged"] == 25_000  # all parts but the last
    # Not one row of the file, no conversation, and the aborted import's parts are gone too.
    assert await snapshot(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM contact") == 0
    assert await pool.fetchval("SELECT count(*) FROM contact_file_row") == 0

    await pool.execute("DROP TRIGGER refuse_one_contact ON contact")
    code, out, err = await import_csv(capsys, path, c, "--json")
    assert code == exit_codes.OK, err
    assert json.loads(out)["imported"] == 30_000
    assert await pool.fetchval("SELECT count(*) FROM conversation") == 30_000


HOLD_ONE_ROW = """
CREATE TABLE hold_import (hold boolean NOT NULL);
INSERT INTO hold_import VALUES (true);
CREATE FUNCTION hold_one_contact() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.phone = '{phone}' THEN
        WHILE (SELECT hold FROM hold_import) LOOP
            PERFORM pg_sleep(0.02);
        END LOOP;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_one_contact BEFORE INSERT ON contact
    FOR EACH ROW EXECUTE FUNCTION hold_one_contact();
"""

HELD = """SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event = 'PgSleep'
            AND query LIKE '%contact_file_row%'"""


async def test_a_connection_killed_while_applying_commits_nothing_and_the_retry_imports_once(
    assigner: Baton, pool: asyncpg.Pool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = await campaign_with_texters(assigner, texters=0, contacts=0)
    path = tmp_path / "voters.csv"
    path.write_text(HEADER + rows(20_000))
    # The commit stops at row 10,000, half the file inserted in its transaction, until released.
    await pool.execute(HOLD_ONE_ROW.format(phone=phone(10_000)))
    cli = asyncio.create_task(import_csv(capsys, path, c, "--json"))

    first = await eventually(lambda: pool.fetchval(HELD), within=60)
    assert await pool.fetchval("SELECT pg_terminate_backend($1)", first)
    # The assigner's connection died mid-statement: its transaction is gone, none of it landed.
    assert await pool.fetchval("SELECT count(*) FROM contact") == 0
    # The CLI hears `unavailable` and commits again; that commit is held at the same row, in
    # another backend (the terminated one may still be listed, sleeping, for a moment: CI saw it
    # read back as the "second")...

    async def held_by_another() -> int | None:
        pid: int | None = await pool.fetchval(HELD)
        return None if pid == first else pid

    second = await eventually(held_by_another, within=60)
    assert second not in (None, first)
    assert await pool.fetchval("SELECT count(*) FROM contact") == 0
    await pool.execute("UPDATE hold_import SET hold = false")  # ...and then let through.

    code, out, err = await cli
    assert code == exit_codes.OK, err
    summary = json.loads(out)
    assert (summary["imported"], summary["rejected"], summary["committed"]) == (20_000, 0, True)
    assert await pool.fetchval("SELECT count(*) FROM contact") == 20_000
    assert await pool.fetchval("SELECT count(DISTINCT phone) FROM contact") == 20_000
    assert await pool.fetchval("SELECT count(*) FROM conversation") == 20_000
