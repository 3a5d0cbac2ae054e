"""`baton up --provider twilio-simulator` (or `telnyx-simulator`) hands the bridge settings by
the bridge's own names (shared/ may not import services/, so this test is where the two are held
together), and the simulator process the same account."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.bridge.settings import BridgeSettings
from services.bridge.telnyx_webhooks import WEBHOOKS_PATH as TELNYX_WEBHOOKS
from services.bridge.twilio_webhooks import MESSAGES_PATH
from shared.runtime.settings import load_settings
from tools.cli.provider_simulator import (
    SIMULATED_NUMBER_RATE,
    ProviderSimulator,
    SimulatorAccount,
    TelnyxSimulatorAccount,
    simulator_account,
)
from tools.simulation import simulator_process
from tools.simulation.scenario import every_sending_number, fresh_sending_number


def _command_value(command: tuple[str, ...], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_the_bridge_accepts_the_settings_it_is_given_beside_the_simulator(tmp_path: Path) -> None:
    simulator = ProviderSimulator(simulator_account(tmp_path), port=18001, webhook_port=18002)
    assert isinstance(simulator.account, SimulatorAccount)
    env = {"BATON_AUTH_SECRET": "x" * 32, **simulator.bridge_env()}
    settings = load_settings(BridgeSettings, env)
    assert settings.bridge_provider == "twilio"
    assert settings.twilio_account_sid == simulator.account.account_sid
    assert settings.twilio_token() == simulator.account.auth_token()
    assert settings.twilio_api_url == simulator.url == "http://127.0.0.1:18001"
    assert settings.bridge_http_port == 18002
    assert settings.bridge_public_url == simulator.webhooks_url
    assert settings.bridge_default_rate == SIMULATED_NUMBER_RATE
    # The simulator posts contacts' texts where the bridge listens for them.
    command = simulator.process({}).command
    assert _command_value(command, "--provider") == "twilio"
    assert _command_value(command, "--messages-url") == simulator.webhooks_url + MESSAGES_PATH


def test_the_telnyx_bridge_and_its_simulator_share_the_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = ProviderSimulator(
        simulator_account(tmp_path, "telnyx"), port=18001, webhook_port=18002
    )
    assert isinstance(simulator.account, TelnyxSimulatorAccount)
    assert simulator.name == "telnyx-simulator"
    env = {"BATON_AUTH_SECRET": "x" * 32, **simulator.bridge_env()}
    settings = load_settings(BridgeSettings, env)
    assert settings.bridge_provider == "telnyx"
    assert settings.telnyx_key() == simulator.account.api_key()
    assert settings.telnyx_api_url == "http://127.0.0.1:18001/v2"
    assert (settings.bridge_http_port, settings.bridge_public_url) == (
        18002,
        simulator.webhooks_url,
    )
    assert settings.bridge_default_rate == SIMULATED_NUMBER_RATE
    command = simulator.process({}).command
    assert _command_value(command, "--provider") == "telnyx"
    messages_url = _command_value(command, "--messages-url")
    assert messages_url == simulator.webhooks_url + TELNYX_WEBHOOKS
    # The process, from the same environment and command, signs with the key the bridge checks
    # and takes the key the bridge sends with.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    process = simulator_process.telnyx_from_environment(
        messages_url, _command_value(command, "--signing-seed-file")
    )
    assert process.public_key == settings.telnyx_public_key
    assert process.api_key == settings.telnyx_key()
    assert process.messages_url == messages_url and process.reports_statuses


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
def test_the_account_is_made_once_and_kept(tmp_path: Path, provider: str) -> None:
    with pytest.raises(OSError):
        simulator_account(tmp_path, provider, create=False)
    first = simulator_account(tmp_path, provider)
    again = simulator_account(tmp_path, provider, create=False)
    assert again == first
    if isinstance(first, SimulatorAccount):
        assert first.account_sid.startswith("AC") and len(first.account_sid) == 34
        assert first.token_file.stat().st_mode & 0o777 == 0o600
    else:
        assert first.key_file.stat().st_mode & 0o777 == 0o600
        assert first.signing_seed_file.stat().st_mode & 0o777 == 0o600
        assert again.link("http://x").authorization == f"Bearer {first.api_key()}"
    assert (tmp_path / f"{provider}-simulator").is_dir()


def test_the_simulated_account_holds_every_number_a_simulation_draws() -> None:
    held = every_sending_number()
    assert len(held) == 10_000
    assert all(fresh_sending_number() in held for _ in range(100))
