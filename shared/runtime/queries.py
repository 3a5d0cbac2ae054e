"""Named SQL queries kept in `.sql` files.

A file holds several queries, each introduced by a header line naming it and saying what its
caller gets back (like sqlc's `:one`/`:many`/`:exec`):

    -- name: conversation_for_send :maybe --

- `:many`: every row; `:maybe`: the one row or None; `:one`: the one row (none is an error);
- `:scalar`: the first column of the first row (None when there is no row);
- `:exec`: no rows, the command's status.

Parameters are named, `:campaign_id`, and `:after_id?` when the caller may pass NULL; they
become `$1`, `$2` ... in the order they first appear, once, when the file is parsed. A comment
line `-- not null: col, col` in a query says that those result columns are never NULL where
Postgres cannot tell (an EXISTS, a count, a scalar query that always returns its one row).
`make queries` (tools/sql_codegen.py) turns each file into a typed module beside it, and the
services call those modules' functions, never the SQL by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("many", "maybe", "one", "scalar", "exec")
_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)(?:\s+:([a-z]+))?\s*--\s*$", re.MULTILINE)
# `:name` or `:name?`, but never the second half of a `::type` cast or `a:b` (an array slice).
_PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)(\??)")
_NOT_NULL = re.compile(r"^--\s*not null:\s*(.*)$", re.MULTILINE)
_POSITIONAL = re.compile(r"\$\d")


class QueryFileError(ValueError):
    """A `.sql` file of named queries is malformed."""


@dataclass(frozen=True)
class NamedQuery:
    name: str
    kind: str
    sql: str  # with `$n` placeholders, as Postgres and asyncpg take it
    params: tuple[str, ...]  # the name of `$1`, `$2`, ...
    nullable_params: frozenset[str]
    not_null: tuple[str, ...]  # result columns declared never NULL


def _code_spans(sql: str) -> list[tuple[int, int, bool]]:
    """`sql` cut into (start, end, is_code) spans: string literals, quoted names and comments
    are not code, so a `:word` inside them is left alone."""
    spans: list[tuple[int, int, bool]] = []
    i = start = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        end = -1
        if c in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == c:
                    if end + 1 < n and sql[end + 1] == c:  # a doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            end += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            end = n if newline < 0 else newline
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            end = n if close < 0 else close + 2
        if end < 0:
            i += 1
            continue
        if start < i:
            spans.append((start, i, True))
        spans.append((i, min(end, n), False))
        i = start = min(end, n)
    if start < n:
        spans.append((start, n, True))
    return spans


def _number_placeholders(name: str, body: str, source: str) -> tuple[str, list[str], set[str]]:
    spans = _code_spans(body)
    marked: dict[str, set[bool]] = {}  # each parameter, in order of first appearance
    for start, end, is_code in spans:
        if not is_code:
            continue
        if _POSITIONAL.search(body[start:end]):
            raise QueryFileError(
                f"{source}: query {name!r} uses a positional $n: name it (:campaign_id)"
            )
        for match in _PLACEHOLDER.finditer(body, start, end):
            marked.setdefault(match.group(1), set()).add(match.group(2) == "?")
    mixed = sorted(p for p, marks in marked.items() if len(marks) > 1)
    if mixed:
        raise QueryFileError(
            f"{source}: query {name!r} marks {mixed} nullable (?) at some uses only: mark all"
        )
    params = list(marked)
    numbers = {param: f"${i}" for i, param in enumerate(params, 1)}
    pieces = [
        _PLACEHOLDER.sub(lambda m: numbers[m.group(1)], body[start:end])
        if is_code
        else body[start:end]
        for start, end, is_code in spans
    ]
    return "".join(pieces), params, {p for p, marks in marked.items() if True in marks}


def parse_named_queries(text: str, source: str = "<sql>") -> dict[str, NamedQuery]:
    parts = _HEADER.split(text)
    if parts[0].strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in parts[0].splitlines()
    ):
        raise QueryFileError(f"{source}: SQL before the first '-- name: x :kind --' header")
    queries: dict[str, NamedQuery] = {}
    for name, kind, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
        if name in queries:
            raise QueryFileError(f"{source}: query {name!r} is defined twice")
        if kind not in KINDS:
            raise QueryFileError(
                f"{source}: query {name!r} needs a kind, one of {', '.join(KINDS)}"
                f" (`-- name: {name} :many --`), not {kind!r}"
            )
        sql = body.strip()
        if not sql:
            raise QueryFileError(f"{source}: query {name!r} is empty")
        sql, params, nullable = _number_placeholders(name, sql, source)
        not_null = tuple(
            column.strip()
            for line in _NOT_NULL.findall(sql)
            for column in line.split(",")
            if column.strip()
        )
        queries[name] = NamedQuery(name, kind, sql, tuple(params), frozenset(nullable), not_null)
    return queries


def parse_queries(text: str, source: str = "<sql>") -> dict[str, str]:
    """Each query's SQL by name, its parameters numbered `$1`, `$2` ..."""
    return {name: q.sql for name, q in parse_named_queries(text, source).items()}
