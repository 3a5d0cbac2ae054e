from __future__ import annotations

import pytest

from shared.runtime.queries import QueryFileError, parse_named_queries, parse_queries


def test_parses_named_queries_in_order() -> None:
    text = (
        "-- a comment before the first query\n"
        "-- name: first :scalar --\nSELECT 1;\n\n"
        "-- name: second_one :many --\nSELECT :x\n  + 1;\n"
    )
    assert parse_queries(text) == {"first": "SELECT 1;", "second_one": "SELECT $1\n  + 1;"}
    assert [q.kind for q in parse_named_queries(text).values()] == ["scalar", "many"]


def test_named_parameters_are_numbered_once_in_order_of_first_use() -> None:
    text = (
        "-- name: page :many --\n"
        "-- not null: id, n\n"
        "-- Rows of :campaign_id after :after_id? (a comment: ':words' here are not parameters)\n"
        "SELECT id, count(*) AS n, ':no' AS literal FROM t\n"
        "WHERE campaign_id = :campaign_id AND (:after_id?::bigint IS NULL OR id > :after_id?)\n"
        "  AND kind = ANY(:kinds::text[]) AND (tags)[1:2] = '{}' AND campaign_id = :campaign_id;\n"
    )
    query = parse_named_queries(text)["page"]
    assert query.params == ("campaign_id", "after_id", "kinds")
    assert query.nullable_params == {"after_id"}
    assert query.not_null == ("id", "n")
    assert "WHERE campaign_id = $1 AND ($2::bigint IS NULL OR id > $2)" in query.sql
    assert "ANY($3::text[]) AND (tags)[1:2] = '{}' AND campaign_id = $1;" in query.sql
    assert "':no' AS literal" in query.sql
    assert "-- Rows of :campaign_id after :after_id?" in query.sql


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-- name: a :exec --\nSELECT 1;\n-- name: a :exec --\nSELECT 2;", "defined twice"),
        ("-- name: empty :exec --\n\n-- name: b :exec --\nSELECT 1;", "is empty"),
        ("SELECT 1;\n-- name: b :exec --\nSELECT 1;", "before the first"),
        ("-- name: a --\nSELECT 1;", "needs a kind"),
        ("-- name: a :rows --\nSELECT 1;", "needs a kind"),
        ("-- name: a :scalar --\nSELECT $1;", "positional \\$n"),
        ("-- name: a :scalar --\nSELECT :x? + :x;", "at some uses only"),
    ],
)
def test_malformed_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(QueryFileError, match=problem):
        parse_queries(text)
