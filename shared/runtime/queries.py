"""Named SQL queries kept in `.sql` files.

A file holds several queries, each introduced by a header line `-- name: query_name --`
(the procrastinate convention). They are read once at import time into a plain dict.
"""

from __future__ import annotations

import re
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*--\s*$", re.MULTILINE)


class QueryFileError(ValueError):
    """A `.sql` file of named queries is malformed."""


def parse_queries(text: str, source: str = "<sql>") -> dict[str, str]:
    parts = _HEADER.split(text)
    if parts[0].strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in parts[0].splitlines()
    ):
        raise QueryFileError(f"{source}: SQL before the first '-- name: x --' header")
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise QueryFileError(f"{source}: query {name!r} is defined twice")
        sql = body.strip()
        if not sql:
            raise QueryFileError(f"{source}: query {name!r} is empty")
        queries[name] = sql
    return queries


def load_queries(package: str, filename: str = "queries.sql") -> dict[str, str]:
    """Load the named queries that `package` ships in `filename`."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return parse_queries(text, f"{package}/{filename}")
