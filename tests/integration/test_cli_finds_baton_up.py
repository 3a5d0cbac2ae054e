"""Every `baton` command finds a running `baton up` the same way
(shared/runtime/commands/running_up.py's `cli_settings`): through the announcement in its data
folder, with no `BATON_*` variable set.

Each command below is run beside an announcement naming a real NATS on which no Baton serves
and a Postgres port where nothing listens; with the default 127.0.0.1:4222 also serving (this
machine's own NATS, or one started here), a command that forgot the announcement would talk to
the wrong server and name it in its error. The table must name every command the parser has: a
new one fails here until it is added, with its sample words or its reason to be left out."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats as nats_client
import pytest

from shared.contract import catalogue as api
from shared.runtime.commands.credentials import ensure_dev_secret
from shared.runtime.commands.running_up import (
    ANNOUNCEMENT_FILE,
    FolderInUseError,
    announced,
    cli_settings,
    one_up_per_folder,
)
from shared.runtime.settings import SettingsError
from tools.cli.main import build_parser, main
from tools.devservers.nats import LocalNats
from tools.devservers.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("port-4222")]

CONTACTS = "phone,first_name\n+12025550101,Ada\n"
# Each command's words, run beside the announcement.
SAMPLES: dict[tuple[str, ...], str] = {
    ("migrate",): "migrate",
    ("status",): "status",
    ("org", "create"): "org create X --as operator",
    ("org", "update"): "org update 1 --batch-size 10 --as 1",
    ("org", "numbers-add"): "org numbers-add 1 +12025550100 --as 1",
    ("org", "numbers-remove"): "org numbers-remove 1 +12025550100 --as 1",
    ("org", "show"): "org show 1 --as 1",
    ("org", "numbers"): "org numbers 1 --as 1",
    ("user", "create"): "user create --org 1 --name A --role texter --as 1",
    ("user", "role"): "user role 2 --org 1 --role admin --as 1",
    ("user", "remove"): "user remove 2 --org 1 --as 1",
    ("user", "list"): "user list --org 1 --as 1",
    ("user", "level"): "user level 2 --org 1 --level approval_required --as 1",
    ("requests", "list"): "requests list --org 1 --as 1",
    ("requests", "resolve"): "requests resolve 1 --approve --as 1",
    ("org", "campaigns"): "org campaigns 1 --as 1",
    ("team", "list"): "team list --org 1 --as 1",
    ("campaign", "invites"): "campaign invites 1 --as 1",
    ("export",): "export 1 --messages -o out.csv --as 1",
    ("team", "create"): "team create --org 1 --name T --as 1",
    ("team", "add-members"): "team add-members 1 2 --as 1",
    ("team", "update"): "team update 1 --kind initials --max-size 50 --as 1",
    ("campaign", "create"): "campaign create --org 1 --title R --as 1",
    ("campaign", "update"): "campaign update 1 --status active --as 1",
    ("campaign", "texters-add"): "campaign texters-add 1 2 --as 1",
    ("campaign", "texters-remove"): "campaign texters-remove 1 2 --as 1",
    ("campaign", "show"): "campaign show 1 --as 1",
    ("campaign", "invite"): "campaign invite 1 --as 1",
    ("campaign", "revoke"): "campaign revoke sometoken --as 1",
    ("contacts", "import"): "contacts import contacts.csv --campaign 1 --as 1",
    ("stats",): "stats 1 --as 1",
    ("reassign",): "reassign 1 --confirm --as 1",
    ("move",): "move 1 --to none --as 1",
    ("release", "unhandled"): "release unhandled 1 --as 1",
    ("release", "stale-initials"): "release stale-initials 1 --hours 2 --as 1",
    ("simulate",): "simulate --contacts 10 --texters 1 --quiet",
}
LEFT_OUT = {
    ("up",): "is what announces; it starts or names the servers itself",
    ("service",): "execs a service that runs until stopped; it takes its servers from "
    "cli_settings too (test_service_command_takes_the_announced_servers)",
    ("demo",): "starts a Baton of its own on fresh servers",
    ("token",): "talks to no server (it reads the key: tests/unit/test_cli.py)",
}


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
    tuple[str, ...]
]:  # fmt: skip
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path
        return
    for name, child in subparsers[0].choices.items():
        yield from leaf_commands(child, (*path, name))


@contextlib.contextmanager
def nats_on_default_port(tmp_path: Path) -> Iterator[None]:
    with socket.socket() as probe:
        serving = probe.connect_ex(("127.0.0.1", 4222)) == 0
    if serving:
        yield
        return
    other = LocalNats(tmp_path / "default-nats", 4222)
    other.start()
    try:
        yield
    finally:
        other.stop()


@pytest.fixture
def beside_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A folder announcing a `baton up`: (its NATS URL, its database URL), neither serving Baton."""
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)
    # Nothing serves the subjects: each command gives up at once, naming where it asked.
    monkeypatch.setenv("BATON_CLI_NO_RESPONDERS_SECONDS", "0")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    data_dir = Path(".baton")
    ensure_dev_secret(data_dir)
    nats = LocalNats(tmp_path / "announced-nats", free_port())
    nats_url = nats.start()
    database_url = f"postgresql://postgres@127.0.0.1:{free_port()}/baton"
    try:
        with (
            nats_on_default_port(tmp_path),
            one_up_per_folder(data_dir),
            announced(data_dir, nats_url=nats_url, database_url=database_url),
        ):
            yield nats_url, database_url
    finally:
        nats.stop()


def test_the_table_names_every_command_of_the_parser() -> None:
    leaves = set(leaf_commands(build_parser()))
    assert leaves == set(SAMPLES) | set(LEFT_OUT)
    assert not set(SAMPLES) & set(LEFT_OUT)


@pytest.mark.parametrize("command", sorted(SAMPLES), ids=" ".join)
def test_the_command_talks_to_the_announced_servers(
    command: tuple[str, ...],
    beside_up: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    nats_url, database_url = beside_up
    code = main(SAMPLES[command].split())
    said = capsys.readouterr()
    where = database_url.rsplit(":", 1)[1] if command == ("migrate",) else nats_url
    assert where in said.err, said
    assert "4222" not in said.err + said.out, said
    assert code == 3, said  # nothing serves Baton there: unreachable, whatever the command


def test_the_environment_wins_over_the_announcement(tmp_path: Path) -> None:
    data_dir = tmp_path / ".baton"
    with (
        one_up_per_folder(data_dir),
        announced(data_dir, nats_url="nats://127.0.0.1:1", database_url="postgresql://x@h/d"),
    ):
        both = cli_settings(data_dir, {"BATON_NATS_URL": "nats://elsewhere:4222"})
        assert both.nats_url == "nats://elsewhere:4222"
        assert both.database_url == "postgresql://x@h/d"
        assert cli_settings(data_dir, {}).nats_url == "nats://127.0.0.1:1"
    # Gone with its `baton up`.
    assert not (data_dir / ANNOUNCEMENT_FILE).exists()
    assert cli_settings(data_dir, {}).nats_url == "nats://127.0.0.1:4222"


def test_an_announcement_whose_baton_up_is_gone_is_ignored(tmp_path: Path) -> None:
    """Believed only while the folder's lock is held: not for a live process id alone."""
    data_dir = tmp_path / ".baton"
    data_dir.mkdir()
    alive = {"nats_url": "nats://127.0.0.1:1", "database_url": "postgresql://x@h/d", "pid": 1}
    (data_dir / ANNOUNCEMENT_FILE).write_text(json.dumps(alive))
    assert cli_settings(data_dir, {}).nats_url == "nats://127.0.0.1:4222"
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    gone = {"nats_url": "nats://127.0.0.1:1", "database_url": "postgresql://x@h/d",
            "pid": finished.pid}  # fmt: skip
    (data_dir / ANNOUNCEMENT_FILE).write_text(json.dumps(gone))
    assert cli_settings(data_dir, {}).nats_url == "nats://127.0.0.1:4222"
    (data_dir / ANNOUNCEMENT_FILE).write_text("{not json")
    assert cli_settings(data_dir, {}).nats_url == "nats://127.0.0.1:4222"


async def test_service_command_takes_the_announced_servers(
    tmp_path: Path, database_url: str
) -> None:
    """`baton service assigner` beside a `baton up`: a replica on its servers, with its key."""
    data_dir = tmp_path / ".baton"
    ensure_dev_secret(data_dir)
    nats = LocalNats(tmp_path / "nats", free_port())
    nats_url = nats.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_METRICS_PORT"] = str(free_port())
    command = [sys.executable, "-m", "tools.cli.main", "service", "assigner",
               "--data-dir", str(data_dir)]  # fmt: skip
    try:
        with (
            one_up_per_folder(data_dir),
            announced(data_dir, nats_url=nats_url, database_url=database_url),
        ):
            service = await asyncio.create_subprocess_exec(*command, env=env, cwd=tmp_path)
            try:
                nc = await nats_client.connect(nats_url)
                try:
                    reply = await wait_for_answer(nc, api.STATUS["assigner"].subject, service)
                finally:
                    await nc.close()
            finally:
                service.terminate()
                await asyncio.wait_for(service.wait(), 30)
    finally:
        nats.stop()
    assert json.loads(reply)["data"]["service"] == "assigner"


async def wait_for_answer(
    nc: nats_client.aio.client.Client, subject: str, service: asyncio.subprocess.Process
) -> bytes:
    for _ in range(600):
        assert service.returncode is None, "the service exited"
        try:
            return (await nc.request(subject, b"{}", timeout=0.5)).data
        except (nats_client.errors.NoRespondersError, nats_client.errors.TimeoutError):
            await asyncio.sleep(0.1)
    raise AssertionError(f"nothing answered {subject}")


def test_one_baton_up_per_folder(tmp_path: Path) -> None:
    with (
        one_up_per_folder(tmp_path / ".baton"),
        pytest.raises(FolderInUseError),
        one_up_per_folder(tmp_path / ".baton"),
    ):
        pass
    with one_up_per_folder(tmp_path / ".baton"):  # free again once the first is gone
        pass


def test_an_announcement_naming_unusable_servers_says_where_it_came_from(tmp_path: Path) -> None:
    data_dir = tmp_path / ".baton"
    with (
        one_up_per_folder(data_dir),
        announced(data_dir, nats_url="http://evil.example:80", database_url="mysql://x"),
        pytest.raises(SettingsError, match=r"up\.json"),
    ):
        cli_settings(data_dir, {})
