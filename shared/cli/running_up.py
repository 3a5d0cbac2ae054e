"""Where a running `baton up` can be reached, and the one way every command finds it.

While it is up, `baton up` announces its servers in its data folder (`up.json`: the NATS URL, the
database URL and its process id). Every command takes its settings from `cli_settings`, which
reads the environment and then the announcement of the `baton up` in `--data-dir` (default
`.baton`), so the commands typed beside it talk to its servers with nothing set, whichever
servers it runs on. A variable set in the environment always wins over the announcement, and an
announcement left behind by a `baton up` that is gone is ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared.settings import ENV_PREFIX, CommonSettings, load_settings, require

ANNOUNCEMENT_FILE = "up.json"
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
        require(0 <= self.cli_no_responders_seconds <= 3600, "cli_no_responders_seconds",
                "0..3600")  # fmt: skip


@contextlib.contextmanager
def announced(data_dir: Path, *, nats_url: str, database_url: str) -> Iterator[None]:
    """While the block runs, `data_dir` says where this `baton up`'s servers are."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / ANNOUNCEMENT_FILE
    body = json.dumps({"nats_url": nats_url, "database_url": database_url, "pid": os.getpid()})
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
    try:
        found = json.loads((data_dir / ANNOUNCEMENT_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or not _alive(found.get("pid")):
        return {}
    return {k: v for k, v in found.items() if k in _ANNOUNCED and isinstance(v, str) and v}


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
    beside.validate()
    return beside


def redacted(url: str) -> str:
    """`url` fit to print: its password, if any, left out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True
