"""The layers of pyproject.toml's [tool.importlinter] hold, and a wrong import breaks them.

The second test copies the code to a temporary folder, adds one import that crosses a layer and
runs the same contracts there: a contract that could not fail would pass it too.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

from shared.contract.catalogue import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(where: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(where))
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_layer_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        ("shared/contract/error_codes.py", "import asyncpg", "The API contract does no I/O"),
        (
            "shared/domain/phones.py",
            "import shared.runtime.database",
            "The domain rules import only the contract",
        ),
        (
            "services/sender/send_rules.py",
            "import services.assigner.claim_rules",
            "No service imports another",
        ),
        (
            "shared/runtime/outbox.py",
            "import services.registry",
            "shared never imports services, but for the container's entry point",
        ),
        (
            "services/reaper/releasing.py",
            "import tools.simulation.run",
            "No service imports the tools",
        ),
        (
            "shared/runtime/commands/entrypoint.py",
            "import tools.cli.main",
            "The image's code never imports the tools",
        ),
        (
            "shared/contract/catalogue.py",
            "import shared.runtime.database",
            "The API contract does no I/O",
        ),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, wrong_import: str, broken: str
) -> None:
    for package in ("shared", "services", "tools"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # crosses a layer\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{broken} BROKEN" in result.stdout, result.stdout


def test_the_independence_contract_names_every_registered_service() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (independence,) = [
        c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "independence"
    ]
    assert set(independence["modules"]) == {f"services.{name}" for name in SERVICE_NAMES}


def import_cycles(*packages: str) -> list[tuple[str, str]]:
    """Pairs of modules of `packages` (one graph: a cycle may run from one package into another
    and back, as through shared's one entry point into services) that import each other,
    directly or through others; a deferred import (inside a function, under TYPE_CHECKING)
    counts like any other, since it is how the cycle catalogue -> access -> ... -> catalogue of
    issue #32 hid."""
    graph = grimp.build_graph(*packages, include_external_packages=False, cache_dir=None)
    return [
        (a, b)
        for a, b in itertools.permutations(sorted(graph.modules), 2)
        if graph.direct_import_exists(importer=a, imported=b) and graph.find_shortest_chain(b, a)
    ]


def test_no_modules_import_each_other() -> None:
    assert import_cycles("shared", "services", "tools") == []


def test_a_cycle_through_a_deferred_import_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text("import cyclic.second\n")
    (package / "second.py").write_text("from typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n    from cyclic import first\n")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("cyclic") == [("cyclic.first", "cyclic.second"),
                                       ("cyclic.second", "cyclic.first")]  # fmt: skip
