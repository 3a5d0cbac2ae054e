"""`baton up --provider twilio-simulator`: Baton's real bridge, sending to a Twilio simulator
beside the stack, so a text takes every step a production text takes on this machine.

- The account: a SID and an auth token made once under --data-dir (`twilio-simulator/`, mode
  0600) and kept, as the development secret is. The bridge and the simulator share them.
- The simulator (tools/simulation/simulator_process.py) on a port of its own, supervised like
  the services. The bridge's BATON_TWILIO_API_URL points at it; it posts status callbacks and
  contacts' texts to the bridge's listener, signed with the shared token, and holds every number
  a simulation draws.
- `baton up` announces it (shared/runtime/commands/running_up.py): `baton simulate` and `baton demo`
find it
  there and play the contacts through it, instead of running their own stand-in bridge.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.contract.webhook_paths import TWILIO_MESSAGES_PATH
from shared.runtime.commands.credentials import written_once
from tools.cli.supervisor import ServiceProcess
from tools.simulation import simulator_process

# What `--provider` takes: the simulators `baton up` can run beside Baton.
PROVIDER_SIMULATORS = ("twilio-simulator",)
ACCOUNT_FOLDER = "twilio-simulator"
# Texts per second the bridge sends from each simulated number unless the number has a rate of
# its own: a short code's (100), not a 10DLC number's 1/s, so a simulation runs at about its
# texters' pace. Faster, the bridge would take more than it can send and answer webhooks late.
SIMULATED_NUMBER_RATE = 100


class ProviderConflictError(ValueError):
    """A simulated provider asked for where the environment configures a real one."""


@dataclass(frozen=True)
class SimulatorAccount:
    account_sid: str
    token_file: Path

    def auth_token(self) -> str:
        return self.token_file.read_text().strip()


def simulator_account(data_dir: Path, *, create: bool = True) -> SimulatorAccount:
    """The simulated Twilio account of `data_dir`: made the first time (unless not to `create`,
    when a missing one raises OSError), then the same one."""
    folder = data_dir / ACCOUNT_FOLDER
    sid_file, token_file = folder / "account_sid", folder / "auth_token"
    if create:
        written_once(sid_file, lambda: "AC" + secrets.token_hex(16))
        written_once(token_file, lambda: secrets.token_hex(16))
    return SimulatorAccount(sid_file.read_text().strip(), token_file.resolve())


@dataclass(frozen=True)
class ProviderSimulator:
    """Where the simulator listens, and the bridge's webhook listener it calls."""

    account: SimulatorAccount
    port: int
    webhook_port: int
    name = "twilio-simulator"
    provider = "twilio"

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
            simulator_process.ACCOUNT_VARIABLE: self.account.account_sid,
            simulator_process.TOKEN_FILE_VARIABLE: str(self.account.token_file),
            "BATON_TWILIO_AUTH_TOKEN": "",
            "BATON_TWILIO_MESSAGING_SERVICE_SID": "",
            "BATON_TWILIO_API_URL": self.url,
            "BATON_BRIDGE_HTTP_PORT": str(self.webhook_port),
            "BATON_BRIDGE_PUBLIC_URL": self.webhooks_url,
            "BATON_BRIDGE_DEFAULT_RATE": str(SIMULATED_NUMBER_RATE),
        }

    def process(self, environ: Mapping[str, str]) -> ServiceProcess:
        command = (
            sys.executable, "-m", simulator_process.__name__, "--port", str(self.port),
            "--messages-url", self.webhooks_url + TWILIO_MESSAGES_PATH,
        )  # fmt: skip
        env = {**environ, **self.bridge_env()}
        return ServiceProcess(self.name, self.port, env, command=command)
