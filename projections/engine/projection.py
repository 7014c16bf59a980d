"""What a projection is: the events it consumes, its versioned tables and its handlers.

A projection receives events in batches inside the engine's transaction; it must not
commit, read the wall clock or depend on anything but the events and its own tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, NamedTuple, TypeVar

from eventsourcing.utils import get_topic

from infrastructure.database import Tx


class Recorded(NamedTuple):
    """An event as read from the store: its global position, public type name, the event
    and its aggregate's id as a string."""

    position: int
    type: str
    event: Any
    aggregate_id: str


class HandlerFailed(Exception):
    """A handler raised on one event; carries the event so status can name it."""

    def __init__(self, record: Recorded, error: BaseException) -> None:
        super().__init__(f"{record.type} at position {record.position}: {error!r}")
        self.record = record
        self.error = error


H = TypeVar("H", bound=Callable[..., Any])


def handles(*event_classes: type) -> Callable[[H], H]:
    """Register a projection method as the handler of these event classes."""

    def register(method: H) -> H:
        method.handled_events = (*getattr(method, "handled_events", ()), *event_classes)  # type: ignore[attr-defined]
        return method

    return register


def type_name(topic: str) -> str:
    """'domain.deal:Deal.Won' -> 'DealWon'."""
    return topic.rsplit(":", 1)[-1].replace(".", "")


class Projection:
    """Subclass with `name`, `version`, `tables` and handlers registered by event class:

        @handles(Deal.Won)
        def won(self, state, r: Recorded) -> None: ...

    The events a projection consumes are the classes its handlers are registered for (plus any
    listed in `events`). A subclass may override a handler by defining a method of the same name.
    `tables` maps a logical table name to its DDL, written with `{name}` placeholders for
    every table of the projection (for example `CREATE TABLE {deals} (...)`). Bump `version`
    when the tables or the meaning of the handlers change: the new version is built beside
    the old one.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    on_error: ClassVar[str] = "stop"  # live failures: "stop" the projection, or "park" the event and go on
    events: ClassVar[tuple[type, ...]] = ()
    tables: ClassVar[dict[str, list[str]]] = {}
    handlers: ClassVar[dict[type, str]] = {}  # event class -> handler method name

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(cls.handlers)
        for attr, value in vars(cls).items():
            for event_class in getattr(value, "handled_events", ()):
                table[event_class] = attr
        cls.handlers = table
        cls.events = tuple(dict.fromkeys([*cls.events, *table]))

    @property
    def topics(self) -> list[str]:
        return [get_topic(cls) for cls in self.events]

    def table_names(self, generation: int) -> dict[str, str]:
        return {t: f"{self.name}_v{self.version}_g{generation}_{t}" for t in self.tables}

    def ddl(self, generation: int) -> list[str]:
        names = self.table_names(generation)
        return [stmt.format(**names) for stmts in self.tables.values() for stmt in stmts]

    def handle(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> None:
        """Apply a batch. The default loads state, dispatches per event and writes back."""
        state = self.begin(tx, tables, batch)
        for record in batch:
            name = self.handlers.get(type(record.event))
            if name is None:
                continue
            handler = getattr(self, name)
            try:
                handler(state, record)
            except Exception as e:
                raise HandlerFailed(record, e) from e
        self.commit(tx, tables, state)

    # A projection with a public read answers `GET /metrics/{name}` from a method
    # `query(self, tx, tables, params) -> JSON-able`; those without one leave it None.
    query: ClassVar[Any] = None

    @property
    def queryable(self) -> bool:
        return type(self).query is not None

    @property
    def settles(self) -> bool:
        """Whether this projection finishes deferred work in `settle` (then every batch runs it,
        even one without events of its own)."""
        return type(self).settle is not Projection.settle

    def settle(self, tx: Tx, tables: dict[str, str], *, at_head: bool) -> None:
        """After each batch, in its transaction: finish work the handlers deferred. `at_head`
        says the batch reached the store head (a rebuild's or a backlog's earlier batches may
        leave derived rows to the batch that does); queries must tell a deferred row apart."""

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> Any:
        return None

    def commit(self, tx: Tx, tables: dict[str, str], state: Any) -> None:
        """Write back what `begin` loaded: every `Rows` in the state (a `Rows` or a dict of them)."""
        for rows in state.values() if isinstance(state, dict) else (state,):
            if isinstance(rows, Rows):
                rows.flush()


COPY_FROM_ROWS = 200  # PostgreSQL: from this many rows a flush goes through COPY and a scratch table


class Rows:
    """Rows of one read-model table keyed by one column: loaded in bulk, changed in memory,
    written back with one multi-row upsert per batch."""

    def __init__(self, tx: Tx, table: str, key: str, columns: Sequence[str]) -> None:
        self.tx, self.table, self.key, self.columns = tx, table, key, tuple(columns)
        self._rows: dict[Any, dict | None] = {}
        self._dirty: set[Any] = set()
        self._deleted: set[Any] = set()

    def load(self, keys: Iterable[Any], chunk: int = 500) -> None:
        wanted = [k for k in set(keys) if k not in self._rows]
        cols = ", ".join(self.columns)
        at = self.columns.index(self.key)
        for i in range(0, len(wanted), chunk):
            part = wanted[i : i + chunk]
            marks = ", ".join("?" * len(part))
            for row in self.tx.all(f"SELECT {cols} FROM {self.table} WHERE {self.key} IN ({marks})", part):
                self._rows[row[at]] = dict(zip(self.columns, row, strict=False))
        for k in wanted:
            self._rows.setdefault(k, None)

    def get(self, key: Any) -> dict | None:
        if key not in self._rows:
            self.load([key])
        return self._rows[key]

    def put(self, row: dict) -> None:
        key = row[self.key]
        self._rows[key] = row
        self._dirty.add(key)
        self._deleted.discard(key)

    def delete(self, key: Any) -> None:
        self._rows[key] = None
        self._dirty.discard(key)
        self._deleted.add(key)

    def loaded(self) -> list[dict]:
        """The rows loaded or put so far in this batch."""
        return [row for row in self._rows.values() if row is not None]

    def held(self, key: Any) -> dict | None:
        """The row in memory under `key` (None when not loaded or not found), never read."""
        return self._rows.get(key)

    def keys_held(self) -> set[Any]:
        """The keys loaded or put so far (found or not)."""
        return set(self._rows)

    def drain_changed(self) -> set[Any]:
        """The keys put or updated since the last call: for rows kept in memory and never
        flushed (a flush writes the rows changed since the last flush)."""
        changed, self._dirty = self._dirty, set()
        return changed

    def update(self, key: Any, **changes: Any) -> dict | None:
        """Change an existing row; unknown keys are ignored (their creation event was not seen)."""
        row = self.get(key)
        if row is not None:
            row.update(changes)
            self._dirty.add(key)
        return row

    def flush(self) -> None:
        gone = sorted(self._deleted)
        self._deleted.clear()
        for i in range(0, len(gone), 500):
            part = gone[i : i + 500]
            self.tx.execute(f"DELETE FROM {self.table} WHERE {self.key} IN ({', '.join('?' * len(part))})", part)
        if not self._dirty:
            return
        cols = ", ".join(self.columns)
        marks = ", ".join("?" * len(self.columns))
        sets = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c != self.key)
        sql = f"INSERT INTO {self.table} ({cols}) VALUES ({marks}) ON CONFLICT ({self.key}) DO UPDATE SET {sets}"
        rows = [tuple(self._rows[k][c] for c in self.columns) for k in sorted(self._dirty)]
        self._dirty.clear()
        if self.tx.kind == "sqlite" or len(rows) < COPY_FROM_ROWS:  # executemany: one statement, pipelined
            self.tx.executemany(sql, rows)
            return
        # PostgreSQL: COPY into a scratch table, then one set-based upsert
        scratch = f"scratch_{self.table}"
        self.tx.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} (LIKE {self.table}) ON COMMIT DELETE ROWS")
        if scratch in self.tx.scratch:  # emptied at every commit: only a second use in one transaction
            self.tx.execute(f"TRUNCATE {scratch}")
        self.tx.scratch.add(scratch)
        with self.tx.conn.cursor().copy(f"COPY {scratch} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        self.tx.execute(
            f"INSERT INTO {self.table} ({cols}) SELECT {cols} FROM {scratch} "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {sets}"
        )


def totals_table(
    name: str, dims: Sequence[str], measures: Sequence[str], indexes: dict[str, tuple[str, ...]]
) -> list[str]:
    """The DDL of a table `add_to_totals` keeps: its key `k` (the dimensions joined), the
    dimensions as text, the measures as integers, and the `indexes` {name suffix: columns}."""
    columns = ["k TEXT PRIMARY KEY", *(f"{d} TEXT NOT NULL" for d in dims), *(f"{m} BIGINT NOT NULL" for m in measures)]
    table = "{" + name + "}"
    return [
        f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})",
        *(
            f"CREATE INDEX IF NOT EXISTS {table}_{suffix} ON {table} ({', '.join(on)})"
            for suffix, on in indexes.items()
        ),
    ]


def add_to_totals(
    tx: Tx,
    table: str,
    dims: tuple[str, ...],
    measures: tuple[str, ...],
    added: dict[tuple, list[int]],
    *,
    drop: bool = False,
) -> set[tuple]:
    """Add `added` {dimension values: measure changes} onto the totals `table` keeps per key
    (with `drop`, a row whose measures come to zero is deleted: the table is the same whatever
    the batches); answer the keys that had no row."""
    if not added:
        return set()
    rows = Rows(tx, table, "k", ("k", *dims, *measures))
    keys = {"|".join(key): key for key in added}
    rows.load(keys)
    new = set()
    for k, key in keys.items():
        old = rows.get(k)
        if old is None:
            new.add(key)
        values = {m: (old[m] if old else 0) + change for m, change in zip(measures, added[key], strict=True)}
        if drop and not any(values.values()):
            rows.delete(k)
        else:
            rows.put({"k": k, **dict(zip(dims, key, strict=True)), **values})
    rows.flush()
    return new
