"""`baton up --provider twilio-simulator` (or `telnyx-simulator`): Baton's real bridge, sending
to a provider simulator beside the stack, so a text takes every step a production text takes on
this machine.

- The account: credentials made once under --data-dir (`twilio-simulator/`: a SID and an auth
  token; `telnyx-simulator/`: an API key and the webhook signing key's seed; mode 0600) and
  kept, as the development secret is. The bridge and the simulator share them.
- The simulator (tools/simulation/simulator_process.py) on a port of its own, supervised like
  the services. The bridge's API URL points at it; it posts status events and contacts' texts to
  the bridge's listener, signed with the account's key, and holds every number a simulation
  draws.
- `baton up` announces it (shared/runtime/commands/running_up.py): `baton simulate` and `baton
  demo` find it there and play the contacts through it, instead of running their own stand-in
  bridge.
"""

from __future__ import annotations

import base64
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nacl.signing import SigningKey

from shared.contract.webhook_paths import TELNYX_WEBHOOKS_PATH, TWILIO_MESSAGES_PATH
from shared.runtime.commands.credentials import written_once
from tools.cli.supervisor import ServiceProcess
from tools.simulation import simulator_process, telnyx_simulator, twilio_simulator
from tools.simulation.simulator_link import SimulatorLink

# What `--provider` takes: the simulators `baton up` can run beside Baton. Each is also the
# folder of its account under --data-dir.
PROVIDER_SIMULATORS = ("twilio-simulator", "telnyx-simulator")
# Texts per second the bridge sends from each simulated number unless the number has a rate of
# its own: a short code's (100), not a 10DLC number's 1/s, so a simulation runs at about its
# texters' pace. Faster, the bridge would take more than it can send and answer webhooks late.
SIMULATED_NUMBER_RATE = 100


class ProviderConflictError(ValueError):
    """A simulated provider asked for where the environment configures a real one."""


@dataclass(frozen=True)
class SimulatorAccount:
    """The simulated Twilio account."""

    account_sid: str
    token_file: Path
    provider = "twilio"
    messages_path = TWILIO_MESSAGES_PATH

    @property
    def label(self) -> str:
        return self.account_sid

    def auth_token(self) -> str:
        return self.token_file.read_text().strip()

    def bridge_env(self, simulator_url: str) -> dict[str, str]:
        """The bridge's provider settings (by the bridge's own names, which the simulator
        process reads too); whatever the environment says of them is replaced."""
        return {
            simulator_process.ACCOUNT_VARIABLE: self.account_sid,
            simulator_process.TOKEN_FILE_VARIABLE: str(self.token_file),
            "BATON_TWILIO_AUTH_TOKEN": "",
            "BATON_TWILIO_MESSAGING_SERVICE_SID": "",
            "BATON_TWILIO_API_URL": simulator_url,
        }

    def simulator_arguments(self) -> tuple[str, ...]:
        return ()

    def link(self, simulator_url: str) -> SimulatorLink:
        pair = base64.b64encode(f"{self.account_sid}:{self.auth_token()}".encode()).decode()
        return SimulatorLink(simulator_url, f"Basic {pair}", twilio_simulator.new_message_sid)


@dataclass(frozen=True)
class TelnyxSimulatorAccount:
    """The simulated Telnyx account: its API key, and the seed of its webhook signing key (the
    bridge is given the public half)."""

    key_file: Path
    signing_seed_file: Path
    provider = "telnyx"
    messages_path = TELNYX_WEBHOOKS_PATH
    # Telnyx ids are `telnyx:default:{id}` with no messaging profile (services/bridge/).
    label = "default"

    def api_key(self) -> str:
        return self.key_file.read_text().strip()

    def signing_key(self) -> SigningKey:
        return SigningKey(bytes.fromhex(self.signing_seed_file.read_text().strip()))

    def public_key(self) -> str:
        return base64.b64encode(bytes(self.signing_key().verify_key)).decode("ascii")

    def bridge_env(self, simulator_url: str) -> dict[str, str]:
        return {
            simulator_process.TELNYX_KEY_FILE_VARIABLE: str(self.key_file),
            "BATON_TELNYX_API_KEY": "",
            "BATON_TELNYX_PUBLIC_KEY": self.public_key(),
            "BATON_TELNYX_MESSAGING_PROFILE_ID": "",
            "BATON_TELNYX_API_URL": simulator_url + telnyx_simulator.API_ROOT,
        }

    def simulator_arguments(self) -> tuple[str, ...]:
        return ("--signing-seed-file", str(self.signing_seed_file))

    def link(self, simulator_url: str) -> SimulatorLink:
        return SimulatorLink(
            simulator_url, f"Bearer {self.api_key()}", telnyx_simulator.new_message_id
        )


Account = SimulatorAccount | TelnyxSimulatorAccount


def simulator_account(data_dir: Path, provider: str = "twilio", *, create: bool = True) -> Account:
    """The simulated account of `provider` in `data_dir`: made the first time (unless not to
    `create`, when a missing one raises OSError), then the same one."""
    folder = data_dir / f"{provider}-simulator"
    if provider == "telnyx":
        key_file, seed_file = folder / "api_key", folder / "signing_seed"
        if create:
            written_once(key_file, lambda: "KEY" + secrets.token_hex(16))
            written_once(seed_file, lambda: secrets.token_hex(32))
        for made in (key_file, seed_file):
            made.stat()  # there, or OSError as for Twilio's
        return TelnyxSimulatorAccount(key_file.resolve(), seed_file.resolve())
    sid_file, token_file = folder / "account_sid", folder / "auth_token"
    if create:
        written_once(sid_file, lambda: "AC" + secrets.token_hex(16))
        written_once(token_file, lambda: secrets.token_hex(16))
    return SimulatorAccount(sid_file.read_text().strip(), token_file.resolve())


@dataclass(frozen=True)
class ProviderSimulator:
    """Where the simulator listens, and the bridge's webhook listener it calls."""

    account: Account
    port: int
    webhook_port: int

    @property
    def provider(self) -> str:
        return self.account.provider

    @property
    def name(self) -> str:
        return f"{self.provider}-simulator"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhooks_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}"

    def bridge_env(self) -> dict[str, str]:
        """The bridge's settings (and the simulator's account): this account, its API at the
        simulator, its webhooks here. Whatever the environment says of a provider is replaced."""
        return {
            "BATON_BRIDGE_PROVIDER": self.provider,
            **self.account.bridge_env(self.url),
            "BATON_BRIDGE_HTTP_PORT": str(self.webhook_port),
            "BATON_BRIDGE_PUBLIC_URL": self.webhooks_url,
            "BATON_BRIDGE_DEFAULT_RATE": str(SIMULATED_NUMBER_RATE),
        }

    def process(self, environ: Mapping[str, str]) -> ServiceProcess:
        command = (
            sys.executable, "-m", simulator_process.__name__, "--provider", self.provider,
            "--port", str(self.port),
            "--messages-url", self.webhooks_url + self.account.messages_path,
            *self.account.simulator_arguments(),
        )  # fmt: skip
        env = {**environ, **self.bridge_env()}
        return ServiceProcess(self.name, self.port, env, command=command)
