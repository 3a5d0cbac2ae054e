"""The bridge's named queries from `queries.sql`, loaded once."""

from __future__ import annotations

from shared.runtime.queries import load_queries

QUERIES = load_queries("services.bridge")
