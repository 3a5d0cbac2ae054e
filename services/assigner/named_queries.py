"""The assigner's named queries, each file loaded once: `queries.sql`, and the claims'."""

from __future__ import annotations

from shared.runtime.queries import load_queries

QUERIES = load_queries("services.assigner")
CLAIMS = load_queries("services.assigner", "claims.sql")
