"""Infrastructure: database, event store, key vault, idempotency storage, settings and wiring."""
