"""Remembered answers to commands sent with an `Idempotency-Key`: a retry within 24 hours gets
the original response and writes nothing, even when the two requests race."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from infrastructure.database import Database, Tx

SCHEMA = """CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status INTEGER,
    body BYTEA,
    PRIMARY KEY (principal, idempotency_key)
)"""
RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class Remembered:
    request_hash: str
    status: int | None  # None while the first request is still being answered
    body: bytes | None


def ensure_schema(tx: Tx) -> None:
    tx.execute(SCHEMA.replace("BYTEA", "BLOB") if tx.kind == "sqlite" else SCHEMA)


def claim(db: Database, principal: str, key: str, request_hash: str, now: datetime) -> Remembered | None:
    """Reserve the key for this request (answer None), or answer what is already remembered.
    An entry older than the retention period is forgotten first."""
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM idempotency_keys WHERE principal = ? AND idempotency_key = ? AND created_at < ?",
            (principal, key, (now - RETENTION).isoformat()),
        )
        inserted = tx.execute(
            "INSERT INTO idempotency_keys (principal, idempotency_key, request_hash, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (principal, idempotency_key) DO NOTHING",
            (principal, key, request_hash, now.isoformat()),
        )
        if inserted.rowcount == 1:
            return None
        row = tx.one(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE principal = ? AND idempotency_key = ?",
            (principal, key),
        )
    if row is None:  # forgotten in between: behave as "still running", the caller asks again
        return Remembered(request_hash, None, None)
    return Remembered(row[0], row[1], None if row[2] is None else bytes(row[2]))


def remember(db: Database, principal: str, key: str, status: int, body: bytes) -> None:
    with db.transaction() as tx:
        tx.execute(
            "UPDATE idempotency_keys SET status = ?, body = ? WHERE principal = ? AND idempotency_key = ?",
            (status, body, principal, key),
        )


def release(db: Database, principal: str, key: str) -> None:
    """The first request failed unexpectedly: let a retry run it again."""
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM idempotency_keys WHERE principal = ? AND idempotency_key = ? AND status IS NULL",
            (principal, key),
        )
