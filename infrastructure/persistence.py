"""The event store's persistence: the `eventsourcing` library's SQLite and PostgreSQL recorders,
with two changes.

- Forgetting is one transaction: the events of a command recorded with `forget=[subject, ...]`
  and the destruction of those subjects' keys in the vault commit together or not at all (the
  vault's table lives in the same database). A crash can never leave a forgotten record whose
  key survives.
- A command sent with an `Idempotency-Key` (`claims=[(claim, receipt)]`) notes what it committed
  on its claim in the same transaction, which is refused when the claim was taken over by a
  retry (infrastructure/idempotency.py): a command runs once however its requests die and retry.
- Group commit: concurrent writes of one process share one transaction
  (infrastructure/group_commit.py).
- Bounded in time (PostgreSQL): connections come from a pre-pinged pool whose waits, connects
  and statements are bounded by the DATABASE_URL's timeouts, and a failed call is not retried
  ten times over (the library's default): reads are tried once more when their connection
  broke, writes never (a commit whose answer was lost must not be repeated), and nobody waits
  twice for a database that is not there.

`DatabaseURL.eventsourcing_env()` names these factories as the persistence module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from psycopg.sql import SQL, Composed, Identifier, Literal

from infrastructure import idempotency, vault
from infrastructure.group_commit import GroupCommit


def _database_away(error: BaseException) -> bool:
    """The call waited for a connection and none came: the database is away, do not wait again."""
    from psycopg_pool import PoolTimeout

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, PoolTimeout):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _read_retried_once(method: Callable[..., Any]) -> Callable[..., Any]:
    """The library's read without its own retries, tried once more if its connection broke."""
    read = method.__wrapped__  # type: ignore[attr-defined]

    @functools.wraps(read)
    def once_more(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return read(self, *args, **kwargs)
        except (InterfaceError, OperationalError) as error:
            if _database_away(error):
                raise
            return read(self, *args, **kwargs)

    return once_more


PIPELINE_BYTES = 1_000_000  # events' bytes above which a write leaves pipeline mode


class PostgresRecorder(PostgresApplicationRecorder):
    destroys_keys = True
    notes_claims = True

    _pipelined = PostgresApplicationRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = GroupCommit(self._insert_now, max_bytes=PIPELINE_BYTES)
        self.sql_create_statements.append(self._append_function())
        self.append_statement = SQL("SELECT {0}.{1}(%s) AS notification_id").format(
            Identifier(self.datastore.schema), Identifier(self.APPEND_FUNCTION)
        )

    APPEND_FUNCTION = "salesledger_append_v1"

    def _append_function(self) -> Composed:
        """`APPEND_FUNCTION(events)`: the library's pipelined insert (lock the events table,
        notify, insert, answer the notification ids) as one statement, so an ordinary write is
        one round trip in its own transaction. Created once; a changed body gets a new name."""
        body = SQL(
            "CREATE FUNCTION {schema}.{name}(events {schema}.{event}[]) RETURNS SETOF bigint "
            "LANGUAGE plpgsql AS $body$ BEGIN "
            "SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "RETURNING notification_id; "
            "END $body$"
        ).format(
            schema=Identifier(self.datastore.schema),
            name=Identifier(self.APPEND_FUNCTION),
            event=Identifier(self.stored_event_type_name),
            lock_timeout=Literal(self.datastore.lock_timeout),
            table=Identifier(self.events_table_name),
            channel=Identifier(self.channel_name),
        )
        return SQL(
            "DO $do$ BEGIN IF NOT EXISTS (SELECT FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = {schema} AND p.proname = {name}) THEN {body}; END IF; END $do$"
        ).format(schema=Literal(self.datastore.schema), name=Literal(self.APPEND_FUNCTION), body=body)

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        return self.group.insert(stored_events, **kwargs)

    def _insert_now(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        """The library's pipelined insert for ordinary writes; a large one (a month's close of a
        big organisation) in a plain transaction instead, because psycopg's pipeline mode can
        stall for good sending megabytes in one statement (the server waiting for the rest of
        the message, the client for results)."""
        if sum(len(s.state) for s in stored_events) < PIPELINE_BYTES:
            if not kwargs.get("forget") and not kwargs.get("claims"):
                return self._append(stored_events)
            return self._pipelined(stored_events, **kwargs)  # type: ignore[no-any-return]
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._insert_events(curs, stored_events, **kwargs)
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)  # type: ignore[no-any-return]

    def _append(self, stored_events: Sequence[Any]) -> Sequence[int]:
        rows = [
            self.construct_pg_stored_event(s.originator_id, s.originator_version, s.topic, s.state)
            for s in stored_events
        ]
        with self.datastore.get_connection() as conn:
            return [r["notification_id"] for r in conn.execute(self.append_statement, (rows,), prepare=True).fetchall()]

    select_events = _read_retried_once(PostgresAggregateRecorder.select_events)
    select_notifications = _read_retried_once(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _read_retried_once(PostgresApplicationRecorder.max_notification_id)

    def _insert_events(self, curs: Any, stored_events: Sequence[Any], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        for subject in kwargs.get("forget", ()):  # same transaction as the events
            vault.destroy_key(curs.execute, "postgres", subject)
        for claim in kwargs.get("claims", ()):  # fetching in pipeline mode waits for the results so far
            idempotency.note_commit(curs.execute, curs.fetchone, "postgres", *claim)

    def insert_bulk(self, stored_events: Sequence[Any]) -> None:
        """Append many events in one transaction with COPY (no notification ids returned): the
        import's fast path. The table is locked like every insert, so readers see no gaps."""
        from psycopg.sql import SQL, Identifier

        copy = SQL("COPY {0}.{1} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)").format(
            Identifier(self.datastore.schema), Identifier(self.events_table_name)
        )
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            with curs.copy(copy) as out:
                out.set_types(["uuid", "bigint", "text", "bytea"])
                for s in stored_events:
                    out.write_row((s.originator_id, s.originator_version, s.topic, s.state))

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of these aggregates in one query, by aggregate then version."""
        from psycopg.sql import SQL, Identifier

        query = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {0}.{1} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(query, (list(originator_ids),))
            return [
                StoredEvent(
                    originator_id=r["originator_id"],
                    originator_version=r["originator_version"],
                    topic=r["topic"],
                    state=bytes(r["state"]),
                )
                for r in curs.fetchall()
            ]


class Postgres(PostgresFactory):
    application_recorder_class = PostgresRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        from infrastructure.database import RECONNECT_GIVE_UP, DatabaseURL, sweeping_check

        url = DatabaseURL(
            kind="postgres",
            connect_timeout=float(self.env.get(self.POSTGRES_CONNECT_TIMEOUT) or 5),
            lock_timeout=float(self.env.get(self.POSTGRES_LOCK_TIMEOUT) or 10),
            statement_timeout=float(self.env.get("STATEMENT_TIMEOUT_MS") or 0) / 1000,
        )
        pool = self.datastore.pool  # not opened yet: configured here before its first connection
        pool.kwargs.update(url.connect_options())  # bounded connects, keepalives, statement timeout
        pool.reconnect_timeout = RECONNECT_GIVE_UP
        # The library's pre-ping (POSTGRES_PRE_PING) finds dead connections one at a time, with a
        # growing pause after the second; this one replaces all of them at the first.
        assert pool._check is not None, "POSTGRES_PRE_PING is expected to be on"
        pool._check = sweeping_check(lambda: pool)


class SQLiteRecorder(SQLiteApplicationRecorder):
    destroys_keys = True
    notes_claims = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group = GroupCommit(super().insert_events)

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        return self.group.insert(stored_events, **kwargs)

    def _insert_events(self, c: Any, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        subjects = kwargs.get("forget", ())
        if subjects:
            c.execute("PRAGMA secure_delete = ON")  # the overwritten key leaves no copy in free space
            for subject in subjects:  # same transaction as the events
                vault.destroy_key(c.execute, "sqlite", subject)
        for claim in kwargs.get("claims", ()):  # raising here rolls the whole transaction back
            idempotency.note_commit(c.execute, c.fetchone, "sqlite", *claim)
        return returning

    def insert_bulk(self, stored_events: Sequence[Any]) -> None:
        """Append many events in one transaction with one prepared statement (no notification
        ids returned): the import's fast path."""
        with self.datastore.transaction(commit=True) as c:
            c.executemany(
                self.insert_events_statement,
                [
                    (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id, *rest)
                    for s in stored_events
                    for rest in ((s.originator_version, s.topic, s.state),)
                ],
            )

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of these aggregates in one query, by aggregate then version."""
        marks = ", ".join("?" * len(originator_ids))
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT originator_id, originator_version, topic, state FROM {self.events_table_name} "
                f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
                [i.hex for i in originator_ids],
            )
            return [
                StoredEvent(
                    originator_id=self.convert_originator_id(r["originator_id"]),
                    originator_version=r["originator_version"],
                    topic=r["topic"],
                    state=r["state"],
                )
                for r in c.fetchall()
            ]


class SQLite(SQLiteFactory):
    application_recorder_class = SQLiteRecorder
