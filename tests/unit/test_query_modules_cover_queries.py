"""Each `-- name:` query has exactly one function in its generated module and each function one
query; no code reaches a query through the name-keyed dicts or builds a query's name at run time.

The dicts (`QUERIES[...]`, `CLAIMS[...]`, `FILE_QUERIES[...]`) are on their way out (issue #32):
STILL_INDEXING lists the modules not moved to the typed functions yet. It must match exactly,
so a module that moves has to leave the list, and no new module can start indexing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shared.runtime.queries import parse_named_queries
from tools.sql_codegen import ROOT, module_path, sql_files

# QUERIES, CLAIMS, FILE_QUERIES, and the aliases they are imported under (ACCESS_QUERIES).
DICTS = re.compile(r"^[A-Z_]*(QUERIES|CLAIMS)$")

# Modules that still index the dicts; each leaves when its call sites use the typed functions.
STILL_INDEXING: set[str] = set()
# Modules that still pick a query's name at run time (an f-string or an expression).
STILL_BUILDING: set[str] = set()


def _functions(module: Path) -> list[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    return [node.name for node in tree.body if isinstance(node, ast.AsyncFunctionDef)]


def test_every_query_has_one_function_and_every_function_one_query() -> None:
    files = sql_files()
    assert len(files) >= 19
    for sql_file in files:
        queries = parse_named_queries(sql_file.read_text(encoding="utf-8"), str(sql_file))
        functions = _functions(module_path(sql_file))
        assert sorted(functions) == sorted(queries), sql_file
        assert len(set(functions)) == len(functions), sql_file


def _dict_indexes() -> tuple[set[str], set[str]]:
    indexing: set[str] = set()
    building: set[str] = set()
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]):
        source = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and DICTS.match(node.value.id)
            ):
                indexing.add(source)
                is_literal = isinstance(node.slice, ast.Constant)
                if not is_literal:
                    building.add(source)
    return indexing, building


def test_no_module_but_the_listed_ones_indexes_the_query_dicts() -> None:
    indexing, building = _dict_indexes()
    assert indexing == STILL_INDEXING
    assert building == STILL_BUILDING
