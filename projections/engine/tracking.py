"""Bookkeeping tables of the projection engine: which generation of a projection's tables
answers queries, how far each generation has read, and what went wrong.

Exactly-once: a batch's read-model writes and its new position commit in one transaction,
guarded by a compare-and-set on the previous position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infrastructure.database import Tx
from projections.engine.projection import Projection

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS projection_registry (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        active_generation INTEGER NOT NULL,
        rebuilding_generation INTEGER,
        state TEXT NOT NULL,
        last_error TEXT,
        error_position BIGINT,
        error_event_type TEXT,
        error_traceback TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS projection_dead_letters (
        name TEXT NOT NULL,
        position BIGINT NOT NULL,
        event_type TEXT NOT NULL,
        error TEXT NOT NULL,
        error_traceback TEXT NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (name, position)
    )""",
    """CREATE TABLE IF NOT EXISTS projection_tracking (
        name TEXT NOT NULL,
        generation INTEGER NOT NULL,
        position BIGINT NOT NULL,
        PRIMARY KEY (name, generation)
    )""",
]


class PositionConflict(Exception):
    """The tracked position is not the one the batch started from: refuse the batch."""


@dataclass(frozen=True)
class Registration:
    name: str
    version: int
    active_generation: int
    rebuilding_generation: int | None
    state: str
    last_error: str | None
    error_position: int | None
    error_event_type: str | None
    error_traceback: str | None


_COLUMNS = (
    "name, version, active_generation, rebuilding_generation, state, last_error, "
    "error_position, error_event_type, error_traceback"
)


def ensure_schema(tx: Tx) -> None:
    for stmt in SCHEMA:
        tx.execute(stmt)


def registration(tx: Tx, name: str, *, lock: bool = False) -> Registration | None:
    row = tx.one(
        f"SELECT {_COLUMNS} FROM projection_registry WHERE name = ?" + (tx.for_update if lock else ""), (name,)
    )
    return None if row is None else Registration(*row)


def at_head(
    tx: Tx, name: str, head_sql: str, rows: tuple[str, Sequence[Any]] | None = None
) -> tuple[Registration | None, int, int, list[tuple]]:
    """In one statement, so as one snapshot of the database: the registration, the active
    generation's position, the store head (`head_sql`, a subquery on the same database) and, with
    `rows` (a query and its parameters), that query's rows, in no particular order."""
    columns = ", ".join(f"r.{c.strip()}" for c in _COLUMNS.split(","))
    width = columns.count(",") + 3  # the registration, its position and the head
    found = tx.all(
        f"SELECT {columns}, t.position, ({head_sql}){'' if rows is None else ', x.*'} FROM projection_registry r "
        "LEFT JOIN projection_tracking t ON t.name = r.name AND t.generation = r.active_generation "
        f"{'' if rows is None else f'LEFT JOIN ({rows[0]}) x ON 1 = 1 '}WHERE r.name = ?",
        [*(() if rows is None else rows[1]), name],
    )
    if not found:
        return None, 0, int(tx.value(head_sql) or 0), []
    *reg, position, head = found[0][:width]
    return (
        Registration(*reg),
        int(position or 0),
        int(head or 0),
        [row[width:] for row in found if rows is not None and row[width] is not None],
    )


def register(tx: Tx, projection: Projection) -> Registration:
    """Make sure the projection's current version has an active generation with tables."""
    reg = registration(tx, projection.name, lock=True)
    if reg is not None and reg.version == projection.version:
        for stmt in projection.ddl(reg.active_generation):
            tx.execute(stmt)
        return reg
    generation = 1 if reg is None else next_generation(tx, projection.name)
    create_generation(tx, projection, generation)
    if reg is None:
        tx.execute(
            "INSERT INTO projection_registry (name, version, active_generation, state) VALUES (?, ?, ?, 'catching_up')",
            (projection.name, projection.version, generation),
        )
    else:  # the projection's code changed: its new version starts from zero beside the old tables
        tx.execute(
            "UPDATE projection_registry SET version = ?, active_generation = ?, state = 'catching_up', "
            "rebuilding_generation = NULL, last_error = NULL, error_position = NULL, "
            "error_event_type = NULL, error_traceback = NULL WHERE name = ?",
            (projection.version, generation, projection.name),
        )
    return registration(tx, projection.name)


def next_generation(tx: Tx, name: str) -> int:
    return int(tx.value("SELECT COALESCE(MAX(generation), 0) FROM projection_tracking WHERE name = ?", (name,))) + 1


def create_generation(tx: Tx, projection: Projection, generation: int) -> None:
    drop_generation(tx, projection, generation)
    for stmt in projection.ddl(generation):
        tx.execute(stmt)
    tx.execute(
        "INSERT INTO projection_tracking (name, generation, position) VALUES (?, ?, 0)", (projection.name, generation)
    )


def drop_generation(tx: Tx, projection: Projection, generation: int) -> None:
    for table in projection.table_names(generation).values():
        tx.execute(f"DROP TABLE IF EXISTS {table}")
    tx.execute("DELETE FROM projection_tracking WHERE name = ? AND generation = ?", (projection.name, generation))


def active_positions(tx: Tx, names: Sequence[str]) -> dict[str, int]:
    """The position of each named projection's active generation, in one query."""
    if not names:
        return {}
    rows = tx.all(
        "SELECT r.name, t.position FROM projection_registry r JOIN projection_tracking t "
        f"ON t.name = r.name AND t.generation = r.active_generation WHERE r.name IN ({', '.join('?' * len(names))})",
        list(names),
    )
    return {name: int(position) for name, position in rows}


def position(tx: Tx, name: str, generation: int) -> int | None:
    value = tx.value("SELECT position FROM projection_tracking WHERE name = ? AND generation = ?", (name, generation))
    return None if value is None else int(value)


def advance(tx: Tx, name: str, generation: int, expected: int, new: int) -> None:
    """Compare-and-set the position; a repeated or out-of-order batch is refused."""
    if new <= expected:
        raise PositionConflict(f"{name}: new position {new} is not after {expected}")
    cur = tx.execute(
        "UPDATE projection_tracking SET position = ? WHERE name = ? AND generation = ? AND position = ?",
        (new, name, generation, expected),
    )
    if cur.rowcount != 1:
        raise PositionConflict(f"{name}: generation {generation} is no longer at position {expected}")


def set_state(tx: Tx, name: str, state: str) -> None:
    tx.execute(
        "UPDATE projection_registry SET state = ?, last_error = NULL, error_position = NULL, "
        "error_event_type = NULL, error_traceback = NULL WHERE name = ? AND state <> ?",
        (state, name, state),
    )


def set_failed(tx: Tx, name: str, error: str, position: int | None, event_type: str | None, traceback: str) -> None:
    tx.execute(
        "UPDATE projection_registry SET state = 'failed', last_error = ?, error_position = ?, "
        "error_event_type = ?, error_traceback = ? WHERE name = ?",
        (error, position, event_type, traceback, name),
    )


def active_tables(tx: Tx, projection: Projection) -> dict[str, str]:
    """Table names of the generation that answers queries now."""
    generation = tx.value(
        "SELECT active_generation FROM projection_registry WHERE name = ? AND version = ?",
        (projection.name, projection.version),
    )
    if generation is None:
        raise LookupError(f"projection {projection.name} v{projection.version} is not registered yet")
    return projection.table_names(int(generation))


def active_tables_at(tx: Tx, projection: Projection) -> tuple[dict[str, str], int]:
    """In one query: the table names of the active generation and its position."""
    row = tx.one(
        "SELECT r.active_generation, t.position FROM projection_registry r LEFT JOIN projection_tracking t "
        "ON t.name = r.name AND t.generation = r.active_generation WHERE r.name = ? AND r.version = ?",
        (projection.name, projection.version),
    )
    if row is None or row[0] is None:
        raise LookupError(f"projection {projection.name} v{projection.version} is not registered yet")
    return projection.table_names(int(row[0])), int(row[1] or 0)


def active_position(tx: Tx, name: str) -> int | None:
    value = tx.value(
        "SELECT t.position FROM projection_registry r JOIN projection_tracking t "
        "ON t.name = r.name AND t.generation = r.active_generation WHERE r.name = ?",
        (name,),
    )
    return None if value is None else int(value)


# -- dead letters: events a projection with on_error = "park" set aside -----------------------------
def park(tx: Tx, name: str, position: int, event_type: str, error: str, trace: str) -> None:
    tx.execute("DELETE FROM projection_dead_letters WHERE name = ? AND position = ?", (name, position))
    tx.execute(
        "INSERT INTO projection_dead_letters (name, position, event_type, error, error_traceback, status) "
        "VALUES (?, ?, ?, ?, ?, 'parked')",
        (name, position, event_type, error, trace),
    )


def parked_positions(tx: Tx, name: str) -> set[int]:
    return {
        int(p)
        for (p,) in tx.all("SELECT position FROM projection_dead_letters WHERE name = ? AND status = 'parked'", (name,))
    }


def dead_letters(tx: Tx, name: str) -> list[dict]:
    columns = ("position", "event_type", "error", "error_traceback", "status")
    return [
        dict(zip(columns, row, strict=True))
        for row in tx.all(
            f"SELECT {', '.join(columns)} FROM projection_dead_letters WHERE name = ? ORDER BY position", (name,)
        )
    ]


def resolve_dead_letter(tx: Tx, name: str, position: int) -> None:
    tx.execute(
        "UPDATE projection_dead_letters SET status = 'retried' WHERE name = ? AND position = ?", (name, position)
    )
