"""Remembered answers to commands sent with an `Idempotency-Key`: a retry within 24 hours gets
the original response and writes nothing, even when the two requests race.

While the first request runs, its claim is a lease: the request renews it (a heartbeat) and
a claim whose lease ran out belongs to a request that died (a crashed or killed server), so
the next retry takes it over and runs the command instead of waiting for an answer that
will never come."""

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
    owner TEXT,
    lease_until DOUBLE PRECISION,
    PRIMARY KEY (principal, idempotency_key)
)"""
ADDED_COLUMNS = {"owner": "TEXT", "lease_until": "DOUBLE PRECISION"}  # absent from tables made before leases
RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class Remembered:
    request_hash: str
    status: int | None  # None while the first request is still being answered
    body: bytes | None


def ensure_schema(tx: Tx) -> None:
    tx.execute(SCHEMA.replace("BYTEA", "BLOB") if tx.kind == "sqlite" else SCHEMA)
    if tx.kind == "sqlite":
        present = {row[1] for row in tx.all("PRAGMA table_info(idempotency_keys)")}
    else:
        present = {
            name
            for (name,) in tx.all(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'idempotency_keys'"
            )
        }
    for column, kind in ADDED_COLUMNS.items():
        if column not in present:  # IF NOT EXISTS: another process may be adding it too
            exists = "" if tx.kind == "sqlite" else "IF NOT EXISTS "
            tx.execute(f"ALTER TABLE idempotency_keys ADD COLUMN {exists}{column} {kind}")


def claim(
    db: Database,
    principal: str,
    key: str,
    request_hash: str,
    now: datetime,
    *,
    owner: str,
    lease_until: float,
    clock: float,
) -> Remembered | None:
    """Reserve the key for this request until `lease_until` (answer None), or answer what is
    already remembered. An entry older than the retention period is forgotten first; a claim
    for the same request whose lease ran out before `clock` (epoch seconds) is taken over.
    `owner` identifies this attempt: only it may renew, complete or release the claim."""
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM idempotency_keys WHERE principal = ? AND idempotency_key = ? AND created_at < ?",
            (principal, key, (now - RETENTION).isoformat()),
        )
        inserted = tx.execute(
            "INSERT INTO idempotency_keys (principal, idempotency_key, request_hash, created_at, owner, lease_until) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (principal, idempotency_key) DO NOTHING",
            (principal, key, request_hash, now.isoformat(), owner, lease_until),
        )
        if inserted.rowcount == 1:
            return None
        taken = tx.execute(
            "UPDATE idempotency_keys SET owner = ?, lease_until = ? "
            "WHERE principal = ? AND idempotency_key = ? AND request_hash = ? AND status IS NULL "
            "AND (lease_until IS NULL OR lease_until < ?)",
            (owner, lease_until, principal, key, request_hash, clock),
        )
        if taken.rowcount == 1:
            return None
        row = tx.one(
            "SELECT request_hash, status, body FROM idempotency_keys WHERE principal = ? AND idempotency_key = ?",
            (principal, key),
        )
    if row is None:  # forgotten in between: behave as "still running", the caller asks again
        return Remembered(request_hash, None, None)
    return Remembered(row[0], row[1], None if row[2] is None else bytes(row[2]))


def renew(db: Database, principal: str, key: str, *, owner: str, lease_until: float) -> bool:
    """Extend a running request's lease; False when the claim is no longer this owner's."""
    with db.transaction() as tx:
        renewed = tx.execute(
            "UPDATE idempotency_keys SET lease_until = ? "
            "WHERE principal = ? AND idempotency_key = ? AND owner = ? AND status IS NULL",
            (lease_until, principal, key, owner),
        )
        return renewed.rowcount == 1


def remember(db: Database, principal: str, key: str, status: int, body: bytes, *, owner: str) -> bool:
    """Keep the answer for replays; False when another attempt took the claim over meanwhile
    (its answer is the one kept)."""
    with db.transaction() as tx:
        kept = tx.execute(
            "UPDATE idempotency_keys SET status = ?, body = ?, lease_until = NULL "
            "WHERE principal = ? AND idempotency_key = ? AND owner = ? AND status IS NULL",
            (status, body, principal, key, owner),
        )
        return kept.rowcount == 1


def release(db: Database, principal: str, key: str, *, owner: str) -> None:
    """The first request failed unexpectedly: let a retry run it again."""
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM idempotency_keys WHERE principal = ? AND idempotency_key = ? AND owner = ? AND status IS NULL",
            (principal, key, owner),
        )
