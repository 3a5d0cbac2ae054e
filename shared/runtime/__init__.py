"""The runtime: services, endpoints, outbox, Postgres, NATS, settings, tokens."""
