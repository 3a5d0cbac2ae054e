"""Baton common code: settings, logging, metrics, Postgres, NATS, schemas, service runtime."""
