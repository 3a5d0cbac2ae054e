"""The contract and the domain rules import only what cannot do I/O: an allow-list, checked over
every import statement of their modules (at the top or inside a function).

pyproject.toml's import-linter contracts forbid named packages, so a package nobody named (httpx,
telnyx, psycopg, the standard library's socket) would pass them: this list says what is allowed
instead. The domain rules are the bottom layer: they import no other part of Baton (the contract
imports them, `shared.domain.text`), so no import cycle can run through the two.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Standard-library and outside modules that do no I/O of their own.
PURE = {
    "__future__", "typing", "collections", "collections.abc", "dataclasses", "datetime", "enum",
    "functools", "re", "unicodedata", "uuid", "zoneinfo", "urllib.parse", "msgspec",
    "phonenumbers",
}  # fmt: skip
ALLOWED = {
    "shared/contract": PURE | {"shared.contract", "shared.domain"},
    "shared/domain": PURE | {"shared.domain"},
}


def imported(source: str) -> set[str]:
    """The modules `source` imports, by their full dotted names (relative imports left out)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def outside(names: set[str], allowed: set[str]) -> set[str]:
    """The names neither allowed nor inside an allowed package."""
    return {
        name for name in names if not any(name == ok or name.startswith(ok + ".") for ok in allowed)
    }


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_the_layer_imports_only_what_it_is_allowed(layer: str) -> None:
    modules = sorted((ROOT / layer).rglob("*.py"))
    assert len(modules) >= 5, layer
    found = {
        str(module.relative_to(ROOT)): sorted(bad)
        for module in modules
        if (bad := outside(imported(module.read_text(encoding="utf-8")), ALLOWED[layer]))
    }
    assert found == {}, found


@pytest.mark.parametrize(
    ("source", "layer", "caught"),
    [
        ("import httpx", "shared/contract", {"httpx"}),
        ("def f():\n    import socket", "shared/contract", {"socket"}),
        ("from urllib.request import urlopen", "shared/domain", {"urllib.request"}),
        (
            "from shared.contract.errors import BatonError",
            "shared/domain",
            {"shared.contract.errors"},
        ),
        ("from shared.runtime import database", "shared/contract", {"shared.runtime"}),
        ("from collections.abc import Sequence\nimport msgspec", "shared/domain", set()),
    ],
)
def test_the_check_catches_an_import_nobody_listed(
    source: str, layer: str, caught: set[str]
) -> None:
    assert outside(imported(source), ALLOWED[layer]) == caught
