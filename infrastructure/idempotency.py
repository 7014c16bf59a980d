"""Remembered answers to commands sent with an `Idempotency-Key`: a retry within 24 hours gets
the original response and writes nothing, even when the two requests race.

While the first request runs, its claim is a lease: the request renews it (a heartbeat) and
a claim whose lease ran out belongs to a request that died (a crashed or killed server), so
the next retry takes it over and runs the command instead of waiting for an answer that
will never come.

The command's events and a note on its claim commit in one transaction (`commit_statements`,
run by the event store's recorder): the note says what was committed, and the transaction is
refused when the claim is no longer this request's. So a retry that takes over the claim of
a request that died after committing does not run the command again (it answers the receipt
of what was committed), and a request whose claim was taken over cannot commit a second time."""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
    committed TEXT,
    PRIMARY KEY (principal, idempotency_key)
)"""
# absent from tables made before leases
ADDED_COLUMNS = {"owner": "TEXT", "lease_until": "DOUBLE PRECISION", "committed": "TEXT"}
RETENTION = timedelta(hours=24)
TAKEN_OVER = "idempotency claim taken over"


@dataclass(frozen=True)
class Remembered:
    request_hash: str
    status: int | None  # None while the first request is still being answered
    body: bytes | None
    committed: dict | None = None  # what a dead request committed before it could answer


@dataclass(frozen=True)
class Claim:
    """The claim the current request holds (set by the API for the command's duration)."""

    principal: str
    key: str
    owner: str


current: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


class ClaimTakenOver(Exception):
    """The request's claim was taken over by a retry: its command must not commit."""


def commit_statements(kind: str, claim: Claim, receipt: dict) -> list[tuple[str, tuple]]:
    """SQL for the command's own transaction: note `receipt` on the claim, then count (as
    `held`) whether the claim is still `claim.owner`'s; the recorder refuses the transaction
    (ClaimTakenOver) when it is not."""
    mark = "?" if kind == "sqlite" else "%s"
    where = f"principal = {mark} AND idempotency_key = {mark} AND owner = {mark} AND status IS NULL"
    ids = (claim.principal, claim.key, claim.owner)
    return [
        (f"UPDATE idempotency_keys SET committed = {mark} WHERE {where}", (json.dumps(receipt), *ids)),
        (f"SELECT count(*) AS held FROM idempotency_keys WHERE {where}", ids),
    ]


def note_commit(execute: Any, fetchone: Any, kind: str, claim: Claim, receipt: dict) -> None:
    """Run `commit_statements` on the recorder's cursor; raise ClaimTakenOver (rolling the
    transaction back) when the claim is no longer this request's."""
    for sql, params in commit_statements(kind, claim, receipt):
        execute(sql, params)
    if fetchone()["held"] != 1:
        raise ClaimTakenOver(TAKEN_OVER)


def receipt_of(primary: Any, events: list) -> dict:
    """What a command committed, enough to answer for it: the primary record, its version,
    whether it was created, and the last event written (its store position is looked up)."""
    last = events[-1]
    return {
        "id": str(primary.id),
        "version": primary.version,
        "created": any(e.originator_id == primary.id and e.originator_version == 1 for e in events),
        "last_event": [str(last.originator_id), last.originator_version],
    }


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
        row = tx.one(
            "SELECT request_hash, status, body, committed FROM idempotency_keys "
            "WHERE principal = ? AND idempotency_key = ?",
            (principal, key),
        )
    if taken.rowcount == 1:  # ours now: run the command, unless the dead request committed it
        return None if row is None or row[3] is None else Remembered(request_hash, None, None, json.loads(row[3]))
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
    """The first request failed unexpectedly: let a retry run it again, or, when its command
    had committed, let a retry answer for it at once."""
    with db.transaction() as tx:
        tx.execute(
            "DELETE FROM idempotency_keys WHERE principal = ? AND idempotency_key = ? AND owner = ? "
            "AND status IS NULL AND committed IS NULL",
            (principal, key, owner),
        )
        tx.execute(
            "UPDATE idempotency_keys SET lease_until = NULL "
            "WHERE principal = ? AND idempotency_key = ? AND owner = ? AND status IS NULL",
            (principal, key, owner),
        )
