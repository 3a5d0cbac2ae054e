from __future__ import annotations

import pytest

from shared.runtime.queries import QueryFileError, parse_queries


def test_parses_named_queries_in_order() -> None:
    text = (
        "-- a comment before the first query\n"
        "-- name: first --\nSELECT 1;\n\n"
        "-- name: second_one --\nSELECT $1\n  + 1;\n"
    )
    assert parse_queries(text) == {"first": "SELECT 1;", "second_one": "SELECT $1\n  + 1;"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-- name: a --\nSELECT 1;\n-- name: a --\nSELECT 2;", "defined twice"),
        ("-- name: empty --\n\n-- name: b --\nSELECT 1;", "is empty"),
        ("SELECT 1;\n-- name: b --\nSELECT 1;", "before the first"),
    ],
)
def test_malformed_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(QueryFileError, match=problem):
        parse_queries(text)
