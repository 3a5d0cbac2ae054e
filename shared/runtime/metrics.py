"""Prometheus metrics common to every service. Service-specific ones live beside their service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "baton_requests_total",
    "Requests served on request/reply subjects, by subject and outcome (ok or the error code).",
    ["service", "subject", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "baton_request_duration_seconds",
    "Time from receiving a request to sending its reply.",
    ["service", "subject"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_FLIGHT = Gauge("baton_requests_in_flight", "Requests being handled right now.", ["service"])
ANSWERS_RESENT = Counter(
    "baton_answers_resent_total",
    "Answers sent again after a reconnect, for those lost with the connection.",
    ["service"],
)
DB_POOL_IN_USE = Gauge(
    "baton_db_pool_connections_in_use", "Postgres connections checked out of the pool.", ["service"]
)
DB_POOL_SIZE = Gauge(
    "baton_db_pool_connections", "Postgres connections open in the pool.", ["service"]
)
NATS_CONNECTED = Gauge("baton_nats_connected", "1 while the NATS connection is up.", ["service"])
SERVICE_INFO = Gauge(
    "baton_service_info",
    "Always 1; labels say which service and schema version.",
    ["service", "version"],
)
