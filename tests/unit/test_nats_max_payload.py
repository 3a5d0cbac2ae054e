"""Every nats-server config Baton ships carries what the services accept: MAX_PAYLOAD_BYTES.

Issue #15: NATS took 8 MB messages that every service then refused over 1 MiB, so a client learned
of the limit only from a `payload_too_large` after the whole message had crossed the network.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from shared.runtime.settings import MAX_PAYLOAD_BYTES, CommonSettings
from tools.devservers.nats import LocalNats

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "deploy/nats/nats.conf", ROOT / "deploy/nats/nats-production.conf"]
# nats-server's size units (conf/parse.go): k, m, g are powers of 1000; kb, mb, gb of 1024.
_UNITS = {"": 1, "k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}
_MAX_PAYLOAD = re.compile(r"^\s*max_payload\s*[:=]?\s*(\d+)\s*([a-z]*)\s*$", re.M | re.I)


def max_payload(config: str) -> int:
    found = _MAX_PAYLOAD.findall(config)
    assert len(found) == 1, f"expected one max_payload line, found {found}"
    digits, unit = found[0]
    return int(digits) * _UNITS[unit.lower()]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_each_shipped_config_says_the_services_limit(path: Path) -> None:
    assert max_payload(path.read_text()) == MAX_PAYLOAD_BYTES


def test_the_local_servers_config_says_it_too(tmp_path: Path) -> None:
    assert max_payload(LocalNats(tmp_path / "js").config_text()) == MAX_PAYLOAD_BYTES


def test_no_other_nats_config_ships() -> None:
    """A new config somewhere under deploy/ (or a Compose or k8s NATS of its own) joins SHIPPED."""
    configs = {
        p for p in (ROOT / "deploy").rglob("*") if p.is_file() and "jetstream" in p.read_text()
    }
    assert configs == set(SHIPPED)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    nats = compose["services"]["nats"]
    assert "./deploy/nats/nats.conf:/etc/nats/nats.conf:ro" in nats["volumes"]
    assert nats["command"] == ["-c", "/etc/nats/nats.conf"]


def test_the_services_accept_what_nats_carries_and_no_more() -> None:
    assert CommonSettings().max_request_bytes == MAX_PAYLOAD_BYTES
