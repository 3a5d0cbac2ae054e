"""Where a running `baton up` can be reached, and the one way every command finds it.

While it is up, `baton up` announces its servers in its data folder (`up.json`: the NATS URL, the
database URL and its process id). Every command takes its settings from `cli_settings`, which
reads the environment and then the announcement of the `baton up` in `--data-dir` (default
`.baton`), so the commands typed beside it talk to its servers with nothing set, whichever
servers it runs on. A variable set in the environment always wins over the announcement, and an
announcement is believed only while its `baton up` holds the folder's lock (`up.lock`): one left
behind by a `baton up` that is gone, however it went, is ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.runtime.settings import (
    ENV_PREFIX,
    CommonSettings,
    SettingsError,
    load_settings,
    require,
)

ANNOUNCEMENT_FILE = "up.json"
# Held (an exclusive `flock`) by the `baton up` of the folder for its whole life; the kernel lets
# go of it when that process ends, however it ends. Its being held is what makes an
# announcement current: a process id alone may have been reused.
LOCK_FILE = "up.lock"
# What the announcement may set, each only while the environment leaves it unset.
_ANNOUNCED = ("nats_url", "database_url")


@dataclass(frozen=True)
class CliSettings(CommonSettings):
    """The `baton` command's settings: the common ones, and how long it waits for a service."""

    # How long a command keeps asking while no service listens on its subject (NATS `no
    # responders`: nothing received the request, so asking again is always safe). Waits for a
    # service that is starting; a Baton that is not there is reported within this time.
    cli_no_responders_seconds: float = 15.0

    def validate(self) -> None:
        super().validate()
        require(0 <= self.cli_no_responders_seconds <= 3600, "cli_no_responders_seconds", "0..3600")


class FolderInUseError(RuntimeError):
    """Another `baton up` runs on this data folder."""


@contextlib.contextmanager
def one_up_per_folder(data_dir: Path) -> Iterator[None]:
    """While the block runs, no other `baton up` can use `data_dir` (its servers' data, its
    announcement); raises FolderInUseError when one already does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        running = _announced_pid(data_dir)
        raise FolderInUseError(
            f"another `baton up`{f' (process {running})' if running else ''} is running on "
            f"{data_dir}: stop it first, or give this one another --data-dir"
        ) from None
    try:
        yield
    finally:
        os.close(descriptor)  # and with it the lock


@dataclass(frozen=True)
class AnnouncedBridge:
    """The provider bridge a running `baton up` runs, as it announced it."""

    # Where that `baton up`'s NATS is: the bridge is its, not another Baton's.
    nats_url: str
    # `twilio`, `telnyx`.
    provider: str
    # The provider simulator the bridge sends to (`baton up --provider twilio-simulator`); empty
    # when it sends to the real provider.
    simulator_url: str = ""


@contextlib.contextmanager
def announced(
    data_dir: Path,
    *,
    nats_url: str,
    database_url: str,
    bridge: str = "",
    simulator_url: str = "",
) -> Iterator[None]:
    """While the block runs, `data_dir` says where this `baton up`'s servers are, and which
    provider its bridge sends through (`bridge`; to the simulator at `simulator_url`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ANNOUNCEMENT_FILE
    found: dict[str, object] = {"nats_url": nats_url, "database_url": database_url}
    if bridge:
        found["bridge"] = {"provider": bridge, "simulator_url": simulator_url}
    body = json.dumps({**found, "pid": os.getpid()})
    # The database URL may carry a password: readable by this user alone, and never half-written.
    draft = path.with_name(f".{ANNOUNCEMENT_FILE}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(body + "\n")
    draft.replace(path)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def announcement(data_dir: Path) -> dict[str, str]:
    """The servers the `baton up` of `data_dir` announces; empty when none is running there."""
    found = _current_announcement(data_dir)
    return {k: v for k, v in found.items() if k in _ANNOUNCED and isinstance(v, str) and v}


def announced_bridge(data_dir: Path) -> AnnouncedBridge | None:
    """The provider bridge the `baton up` running in `data_dir` runs; None when it runs none
    (or no `baton up` runs there)."""
    found = _current_announcement(data_dir)
    bridge, nats_url = found.get("bridge"), found.get("nats_url")
    if not isinstance(bridge, dict) or not isinstance(nats_url, str):
        return None
    provider, simulator_url = bridge.get("provider"), bridge.get("simulator_url", "")
    if not isinstance(provider, str) or not provider or not isinstance(simulator_url, str):
        return None
    return AnnouncedBridge(nats_url, provider, simulator_url)


def _current_announcement(data_dir: Path) -> dict[str, object]:
    try:
        found = json.loads((data_dir / ANNOUNCEMENT_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or not _held(data_dir):
        return {}
    return found


def cli_settings(data_dir: Path, environ: Mapping[str, str] | None = None) -> CliSettings:
    """Every command's settings: the environment's, then the running `baton up`'s servers."""
    env = os.environ if environ is None else environ
    settings = load_settings(CliSettings, env)
    given = {
        name: url
        for name, url in announcement(data_dir).items()
        if not env.get(ENV_PREFIX + name.upper())
    }
    if not given:
        return settings
    beside = dataclasses.replace(
        settings,
        nats_url=given.get("nats_url", settings.nats_url),
        database_url=given.get("database_url", settings.database_url),
    )
    try:
        beside.validate()
    except SettingsError as exc:
        raise SettingsError(
            f"{data_dir / ANNOUNCEMENT_FILE}, written by the `baton up` running there, names a "
            f"server this command cannot use ({exc}); set BATON_NATS_URL / BATON_DATABASE_URL"
        ) from None
    return beside


def _held(data_dir: Path) -> bool:
    """Whether a `baton up` holds `data_dir` now."""
    try:
        descriptor = os.open(data_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # releases the shared lock, if it was taken
    return False


def _announced_pid(data_dir: Path) -> int | None:
    try:
        pid = json.loads((data_dir / ANNOUNCEMENT_FILE).read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None
