"""`baton status` and `baton simulate` find the provider bridge the running Baton has, whatever
the command's own environment says (issue #31): a `baton up` says so in its announcement; any
other Baton's bridge is asked on its status subject."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from services.bridge.service import DEFINITION as BRIDGE
from shared.runtime.commands.running_up import announced, one_up_per_folder
from shared.runtime.settings import CommonSettings
from tests.support.services import running
from tools.cli.main import main
from tools.cli.provider_simulator import ProviderSimulator, simulator_account
from tools.cli.running_bridge import RealProviderError, simulator_link

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def a_baton_up(data_dir: Path, settings: CommonSettings, bridge: str) -> Iterator[None]:
    """What a `baton up` in `data_dir` leaves while it runs: its lock and announcement."""
    with (
        one_up_per_folder(data_dir),
        announced(
            data_dir, nats_url=settings.nats_url, database_url=settings.database_url, bridge=bridge
        ),
    ):
        yield


async def status(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    await asyncio.to_thread(main, ["status", "--json", "--data-dir", str(data_dir)])
    answers: dict[str, Any] = json.loads(capsys.readouterr().out)
    return answers


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BATON_NATS_URL", "BATON_DATABASE_URL", "BATON_BRIDGE_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_CLI_NO_RESPONDERS_SECONDS", "0")


@pytest.mark.usefixtures("bare_environment")
async def test_a_baton_up_with_a_bridge_shows_it_without_the_provider_in_the_environment(
    tmp_path: Path, settings: CommonSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    with a_baton_up(tmp_path, settings, bridge="twilio"):
        assert (await status(tmp_path, capsys))["bridge"] == {"error": "no answer"}
        async with running(BRIDGE, settings):
            assert (await status(tmp_path, capsys))["bridge"]["service"] == "bridge"


async def test_a_baton_up_without_a_bridge_shows_none_whatever_the_environment_says(
    tmp_path: Path,
    settings: CommonSettings,
    capsys: pytest.CaptureFixture[str],
    bare_environment: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATON_BRIDGE_PROVIDER", "twilio")
    with a_baton_up(tmp_path, settings, bridge=""):
        answers = await status(tmp_path, capsys)
    assert "bridge" not in answers and "assigner" in answers


@pytest.mark.usefixtures("bare_environment")
async def test_any_other_baton_shows_the_bridge_that_answers(
    tmp_path: Path,
    settings: CommonSettings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BATON_NATS_URL", settings.nats_url)  # a deployment: no `baton up` here
    assert "bridge" not in await status(tmp_path, capsys)
    async with running(BRIDGE, settings):
        assert (await status(tmp_path, capsys))["bridge"]["service"] == "bridge"


@pytest.mark.usefixtures("bare_environment")
@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
async def test_simulate_goes_through_the_simulator_a_baton_up_announced_and_never_a_real_provider(
    tmp_path: Path, settings: CommonSettings, provider: str
) -> None:
    nc = await nats.connect(settings.nats_url)
    try:
        # No bridge anywhere: the simulation's own stand-in.
        assert await simulator_link(nc, tmp_path, settings.nats_url) is None
        account = simulator_account(tmp_path, provider)
        simulator = ProviderSimulator(account, port=1, webhook_port=2)
        with one_up_per_folder(tmp_path), announced(
            tmp_path, nats_url=settings.nats_url, database_url=settings.database_url,
            bridge=provider, simulator_url=simulator.url,
        ):  # fmt: skip
            link = await simulator_link(nc, tmp_path, settings.nats_url)
            assert link is not None and link.url == simulator.url
            # With that provider's account, as its API takes it.
            assert link.authorization == account.link(simulator.url).authorization
            assert link.authorization.startswith("Bearer " if provider == "telnyx" else "Basic ")
            # Another Baton's NATS: this announcement is not about it.
            assert await simulator_link(nc, tmp_path, "nats://127.0.0.1:1") is None
        with a_baton_up(tmp_path, settings, bridge=provider), pytest.raises(RealProviderError):
            await simulator_link(nc, tmp_path, settings.nats_url)
        async with running(BRIDGE, settings):  # a deployment's bridge, to a real provider
            with pytest.raises(RealProviderError):
                await simulator_link(nc, tmp_path, settings.nats_url)
    finally:
        await nc.close()
