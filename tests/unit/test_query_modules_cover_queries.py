"""Each `-- name:` query has exactly one function in its generated module and each function one
query; no code reaches a query through the name-keyed dicts or builds a query's name at run time.

The name-keyed dicts of SQL (`QUERIES[...]`, `CLAIMS[...]`, `FILE_QUERIES[...]`) are gone (issue
#32): no module of shared/ or services/ may index such a dict again, literally or with a name
built at run time."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shared.runtime.queries import parse_named_queries
from tools.sql_codegen import ROOT, module_path, sql_files

# QUERIES, CLAIMS, FILE_QUERIES, and the aliases they are imported under (ACCESS_QUERIES).
DICTS = re.compile(r"^[A-Z_]*(QUERIES|CLAIMS)$")


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


def _indexes_in(source: str) -> tuple[bool, bool]:
    """Whether `source` indexes a query dict, and whether with a name built at run time."""
    indexing = building = False
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and DICTS.match(node.value.id)
        ):
            indexing = True
            building = building or not isinstance(node.slice, ast.Constant)
    return indexing, building


def _dict_indexes() -> tuple[set[str], set[str]]:
    indexing: set[str] = set()
    building: set[str] = set()
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]):
        source = str(path.relative_to(ROOT))
        indexes, builds = _indexes_in(path.read_text(encoding="utf-8"))
        if indexes:
            indexing.add(source)
        if builds:
            building.add(source)
    return indexing, building


def test_the_check_finds_a_dict_indexed_by_name_and_by_a_built_name() -> None:
    assert _indexes_in('rows = await conn.fetch(QUERIES["take"], 1)') == (True, False)
    assert _indexes_in('sql = ACCESS_QUERIES[f"pooled_{kind}_groups"]') == (True, True)
    assert _indexes_in("rows = await q.take(conn, message_id=1)") == (False, False)


def test_no_module_indexes_the_query_dicts() -> None:
    indexing, building = _dict_indexes()
    assert indexing == set(), "call the generated query functions (make queries)"
    assert building == set(), "a query's name built at run time: call its function instead"
