"""`baton up --provider twilio-simulator` hands the bridge settings by the bridge's own names
(shared/ may not import services/, so this test is where the two are held together)."""

from __future__ import annotations

from pathlib import Path

from services.bridge.settings import BridgeSettings
from services.bridge.twilio_webhooks import MESSAGES_PATH
from shared.runtime.settings import load_settings
from tools.cli.provider_simulator import SIMULATED_NUMBER_RATE, ProviderSimulator, simulator_account
from tools.simulation.scenario import every_sending_number, fresh_sending_number


def test_the_bridge_accepts_the_settings_it_is_given_beside_the_simulator(tmp_path: Path) -> None:
    simulator = ProviderSimulator(simulator_account(tmp_path), port=18001, webhook_port=18002)
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
    assert command[command.index("--messages-url") + 1] == simulator.webhooks_url + MESSAGES_PATH


def test_the_account_is_made_once_and_kept(tmp_path: Path) -> None:
    first = simulator_account(tmp_path)
    assert first.account_sid.startswith("AC") and len(first.account_sid) == 34
    assert first.token_file.stat().st_mode & 0o777 == 0o600
    again = simulator_account(tmp_path, create=False)
    assert again == first and again.auth_token() == first.auth_token()


def test_the_simulated_account_holds_every_number_a_simulation_draws() -> None:
    held = every_sending_number()
    assert len(held) == 10_000
    assert all(fresh_sending_number() in held for _ in range(100))
