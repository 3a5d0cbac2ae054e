"""Where a running `baton up` can be reached: it writes its NATS URL into its data folder while
it is up, so commands run beside it (`baton org create ... --data-dir D`, `baton status`) talk
to it without BATON_NATS_URL. A URL set in the environment always wins."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from shared.settings import ENV_PREFIX, CommonSettings

URL_FILE = "nats_url"


@contextlib.contextmanager
def announced(data_dir: Path, nats_url: str) -> Iterator[None]:
    """While the block runs, `data_dir` says where this `baton up`'s NATS is."""
    path = data_dir / URL_FILE
    path.write_text(nats_url + "\n")
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def beside_up(settings: CommonSettings, data_dir: Path) -> CommonSettings:
    """`settings`, talking to the `baton up` of `data_dir` when the environment names no NATS."""
    if f"{ENV_PREFIX}NATS_URL" in os.environ:
        return settings
    try:
        url = (data_dir / URL_FILE).read_text().strip()
    except FileNotFoundError:
        return settings
    return dataclasses.replace(settings, nats_url=url) if url else settings
