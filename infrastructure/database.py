"""One `DATABASE_URL` for the event store and the read models, on SQLite or PostgreSQL.

SQL in this package is written once with `?` placeholders; `Database` adapts it to the
backend. Write transactions are serialised per database on SQLite (BEGIN IMMEDIATE) and
use row locks on PostgreSQL.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_URL = "sqlite:///./salesledger.db"


class DatabaseURLError(ValueError):
    pass


@dataclass(frozen=True)
class DatabaseURL:
    kind: str  # "sqlite" | "postgres"
    path: str = ""  # sqlite file
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""

    @classmethod
    def parse(cls, url: str | None) -> DatabaseURL:
        url = (url or DEFAULT_URL).strip()
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :]
            if not path or path == ":memory:":
                raise DatabaseURLError("sqlite URL needs a file path: sqlite:///path/to/file.db")
            return cls(kind="sqlite", path=path)
        parts = urlsplit(url)
        if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            dbname = parts.path.lstrip("/")
            if not dbname:
                raise DatabaseURLError("postgresql URL needs a database name: postgresql://user:pw@host:port/db")
            return cls(
                kind="postgres",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username or ""),
                password=unquote(parts.password or ""),
                dbname=unquote(dbname),
            )
        raise DatabaseURLError(f"unsupported DATABASE_URL {url!r}: use sqlite:///file.db or postgresql://…")

    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host, port=self.port, user=self.user or None, password=self.password or None, dbname=self.dbname
        )

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's own settings for this URL (users never set these)."""
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.path,
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
        return env


class Tx:
    """A transaction on one connection, speaking `?`-placeholder SQL on either backend."""

    def __init__(self, conn: Any, kind: str) -> None:
        self.conn = conn
        self.kind = kind

    def _sql(self, sql: str) -> str:
        return sql if self.kind == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self.kind == "sqlite":
            self.conn.executemany(sql, rows)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return list(self.execute(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple | None:
        return self.execute(sql, params).fetchone()

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    @property
    def for_update(self) -> str:
        """Row-lock suffix for SELECTs; SQLite's BEGIN IMMEDIATE already serialises writers."""
        return "" if self.kind == "sqlite" else " FOR UPDATE"


class Database:
    """Connections for read models and bookkeeping; the event store keeps its own."""

    def __init__(self, url: str | DatabaseURL | None = None) -> None:
        self.url = url if isinstance(url, DatabaseURL) else DatabaseURL.parse(url)
        self.kind = self.url.kind
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sqlite_conns: list[sqlite3.Connection] = []
        self._pool = None
        if self.kind == "postgres":
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                self.url.conninfo(), min_size=1, max_size=12, open=True, kwargs={"autocommit": False}, timeout=30
            )

    # -- connections ---------------------------------------------------------------------------
    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            directory = os.path.dirname(os.path.abspath(self.url.path))
            os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(self.url.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._sqlite_conns.append(conn)
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        """One transaction: committed on success, rolled back on any exception."""
        if self.kind == "sqlite":
            conn = self._sqlite()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(conn, "sqlite")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
        else:
            with self._pool.connection() as conn, conn.transaction():
                yield Tx(conn, "postgres")

    def read(self) -> Any:
        return self.transaction(write=False)

    @contextmanager
    def session_connection(self) -> Iterator[Any]:
        """A dedicated PostgreSQL connection outside the pool (advisory locks, LISTEN)."""
        import psycopg

        conn = psycopg.connect(self.url.conninfo(), autocommit=True)
        try:
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            for conn in self._sqlite_conns:
                conn.close()
            self._sqlite_conns.clear()
        self._local = threading.local()
