"""One `DATABASE_URL` for the event store and the read models, on SQLite or PostgreSQL.

SQL in this package is written once with `?` placeholders; `Database` adapts it to the
backend. Write transactions are serialised per database on SQLite (BEGIN IMMEDIATE) and
use row locks on PostgreSQL.

Every wait on the database is bounded, so that a database that is gone or stuck makes a
request fail fast (the API answers 503) rather than hang: getting a connection (connect, or
wait for a pooled one), waiting for a lock (SQLite's busy wait, PostgreSQL's lock_timeout) and
any one PostgreSQL statement. Pooled PostgreSQL connections are checked before use, so that
connections the server dropped are replaced instead of failing the next request.
"""

from __future__ import annotations

import math
import os
import select
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_URL = "sqlite:///./salesledger.db"
# The connection budget of a process on PostgreSQL (SALESLEDGER_DB_POOL_SIZE): at most POOL_SIZE
# connections for the read models, as many for the event store, and VAULT_POOL_SIZE for the
# personal-data keys; `salesledger project` adds one session for all its projection locks, one
# for LISTEN and one for the scheduler's lock. With the defaults: an API worker at most 14, a
# projector process at most 17 (see the README's "Connections").
POOL_SIZE = 6
VAULT_POOL_SIZE = 2


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
    connect_timeout: float = 5.0  # seconds to get a connection: connect, or wait for a pooled one
    lock_timeout: float = 10.0  # seconds a write waits for a lock (SQLite's busy wait, PostgreSQL's lock_timeout)
    statement_timeout: float = 30.0  # PostgreSQL: the longest any one statement may run (0: no limit)
    pool_size: int = POOL_SIZE  # PostgreSQL: the most connections of each pool (read models; event store)

    @classmethod
    def parse(cls, url: str | DatabaseURL | None) -> DatabaseURL:
        if isinstance(url, DatabaseURL):
            return url
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

    def with_timeouts(self, *, connect: float, lock: float, statement: float) -> DatabaseURL:
        return replace(self, connect_timeout=connect, lock_timeout=lock, statement_timeout=statement)

    def with_pool(self, size: int) -> DatabaseURL:
        return replace(self, pool_size=size)

    def connect_options(self) -> dict[str, Any]:
        """libpq options for every PostgreSQL connection: a bounded connect, TCP keepalives (a
        dead peer is noticed in seconds, not hours) and the statement timeout."""
        options = {
            "connect_timeout": _whole_seconds(self.connect_timeout),
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
        }
        settings = [f"lock_timeout={int(self.lock_timeout * 1000)}"]
        if self.statement_timeout:
            settings.append(f"statement_timeout={int(self.statement_timeout * 1000)}")
        options["options"] = " ".join(f"-c {s}" for s in settings)
        return options

    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user or None,
            password=self.password or None,
            dbname=self.dbname,
            **self.connect_options(),
        )

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's own settings for this URL (users never set these)."""
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "infrastructure.persistence:SQLite",
                "SQLITE_DBNAME": self.path,
                "SQLITE_LOCK_TIMEOUT": str(_whole_seconds(self.lock_timeout)),
            }
        return {
            "PERSISTENCE_MODULE": "infrastructure.persistence:Postgres",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_CONNECT_TIMEOUT": str(_whole_seconds(self.connect_timeout)),
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_LOCK_TIMEOUT": str(_whole_seconds(self.lock_timeout)),
            "POSTGRES_POOL_SIZE": str(max(1, self.pool_size // 2)),  # kept open; the rest on demand
            "POSTGRES_MAX_OVERFLOW": str(self.pool_size - max(1, self.pool_size // 2)),
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "SALESLEDGER_STATEMENT_TIMEOUT_MS": str(int(self.statement_timeout * 1000)),
        }


def _quiet(conn: Any) -> bool:
    """Whether an idle connection has heard nothing from the server since its last use: then it
    is as alive as a ping would find it, without the ping's round trip. A backend that was
    terminated, or a server that went down, leaves the socket readable (its last error message,
    or the end of the stream), and such a connection gets the real ping."""
    from psycopg.pq import TransactionStatus

    try:
        if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            return False
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def sweeping_check(pool_ref: Callable[[], Any]) -> Callable[[Any], None]:
    """A pool's pre-ping: check a connection before handing it out (one that heard nothing since
    its last use, `_quiet`, without a round trip); when one turns out dead
    (the server restarted, or its backends were terminated) the others that sat idle beside it
    usually are too, so check them all at once and have replacements made, instead of letting
    each request find them one by one (and psycopg_pool back off a second and more after the
    second dead one)."""

    def check(conn: Any) -> None:
        from psycopg_pool import ConnectionPool

        if _quiet(conn):
            return
        try:
            ConnectionPool.check_connection(conn)
        except Exception:
            pool = pool_ref()
            if pool is not None:
                pool.check()  # takes out and replaces every dead idle connection
            raise

    return check


# A pool gives up a failing reconnection attempt after this long (its retries back off
# exponentially); the next request then starts a fresh one. Short, so that once the database is
# back a request finds it at once rather than after a backoff of minutes.
RECONNECT_GIVE_UP = 5.0


def missing_table(error: BaseException) -> bool:
    """The statement named a table that does not exist (any more), on either backend."""
    if isinstance(error, sqlite3.OperationalError):
        return str(error).startswith("no such table")
    from psycopg.errors import UndefinedTable

    return isinstance(error, UndefinedTable)


@contextmanager
def creating_schema(url: DatabaseURL) -> Iterator[None]:
    """Processes that start together create their tables in turns. PostgreSQL refuses two
    sessions creating one table at once (a unique violation in its catalog) and even two
    no-op changes of one catalog row ("tuple concurrently updated"): a session advisory lock,
    held on a connection of its own for as long as the block runs. SQLite serialises its
    writers already."""
    if url.kind != "postgres":
        yield
        return
    import psycopg

    with psycopg.connect(url.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('salesledger schema'))")
        yield  # released with the session


def _whole_seconds(seconds: float) -> int:
    """The libraries below take whole seconds: round up, never to 0 (which means "no limit")."""
    return max(1, math.ceil(seconds))


class Tx:
    """A transaction on one connection, speaking `?`-placeholder SQL on either backend."""

    def __init__(self, conn: Any, kind: str, shared: dict[Any, Any] | None = None) -> None:
        self.conn = conn
        self.kind = kind
        self.scratch: set[str] = set()  # scratch tables this transaction has filled (PostgreSQL)
        # what its database's transactions may share: values keyed by what they were read from
        # (a read model's tables and position), so that a key names one content for good
        self.shared: dict[Any, Any] = {} if shared is None else shared

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

    # How many values one `among` or `pairs_among` list should hold: SQLite caps the placeholders
    # of a statement; PostgreSQL takes a list as one array parameter, whatever its length.
    @property
    def list_limit(self) -> int:
        return 2000 if self.kind == "sqlite" else 1_000_000

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """`column IN values` and its parameters (never true for no values). On PostgreSQL the
        values are one array parameter: the query text stays short and the same whatever the
        values, so psycopg and the server parse it once rather than per call."""
        if not values:
            return "1 = 0", []
        if self.kind == "sqlite":
            return f"{column} IN ({', '.join('?' * len(values))})", list(values)
        return f"{column} = ANY(?)", [list(values)]

    def pairs_among(self, columns: tuple[str, str], pairs: Sequence[tuple[str, str]]) -> tuple[str, list[Any]]:
        """`(a, b) IN pairs` (text columns) and its parameters, as `among`: two arrays on PostgreSQL."""
        if not pairs:
            return "1 = 0", []
        a, b = columns
        if self.kind == "sqlite":
            return f"({a}, {b}) IN (VALUES {', '.join(['(?, ?)'] * len(pairs))})", [v for pair in pairs for v in pair]
        return f"({a}, {b}) IN (SELECT * FROM unnest(?::text[], ?::text[]))", [
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        ]

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

    def __init__(
        self, url: str | DatabaseURL | None = None, *, secure_delete: bool = False, pool_size: int | None = None
    ) -> None:
        """`secure_delete` (SQLite): deleted and overwritten content is zeroed in the file, not
        left in free space (for tables holding secrets). `pool_size`: the PostgreSQL pool's
        most connections, if not the URL's."""
        self.url = DatabaseURL.parse(url)
        self.pool_size = pool_size or self.url.pool_size
        self.kind = self.url.kind
        self.secure_delete = secure_delete
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sqlite_conns: list[sqlite3.Connection] = []
        self.shared: dict[Any, Any] = {}  # see Tx.shared
        self._pool = None
        if self.kind == "postgres":
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                self.url.conninfo(),
                min_size=1,
                max_size=self.pool_size,
                open=True,
                # Transactions are explicit (`transaction()`: BEGIN … COMMIT); a plain read runs
                # its statements on their own, with no BEGIN or COMMIT to wait for.
                kwargs={"autocommit": True},
                timeout=self.url.connect_timeout,  # waiting for a connection when none can be made
                check=sweeping_check(lambda: self._pool),  # pre-ping: replace connections the server dropped
                reconnect_timeout=RECONNECT_GIVE_UP,
            )

    # -- connections ---------------------------------------------------------------------------
    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            directory = os.path.dirname(os.path.abspath(self.url.path))
            os.makedirs(directory, exist_ok=True)
            conn = sqlite3.connect(
                self.url.path, isolation_level=None, check_same_thread=False, timeout=self.url.lock_timeout
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.url.lock_timeout * 1000)}")
            if self.secure_delete:
                conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._sqlite_conns.append(conn)
        return conn

    @contextmanager
    def transaction(self, *, write: bool = True, snapshot: bool = False) -> Iterator[Tx]:
        """One transaction: committed on success, rolled back on any exception. With `snapshot`,
        every statement sees the database as of the first (PostgreSQL's REPEATABLE READ, begun
        with it; a SQLite transaction always does)."""
        if self.kind == "sqlite":
            conn = self._sqlite()
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx(conn, "sqlite", self.shared)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
        elif snapshot:
            from psycopg import IsolationLevel

            with self._pool.connection() as conn:
                conn.isolation_level = IsolationLevel.REPEATABLE_READ  # sent with the BEGIN
                try:
                    with conn.transaction():
                        yield Tx(conn, "postgres", self.shared)
                finally:
                    conn.isolation_level = None
        else:
            with self._pool.connection() as conn, conn.transaction():
                yield Tx(conn, "postgres", self.shared)

    @contextmanager
    def statements(self, *, write: bool = False) -> Iterator[Tx]:
        """Statements that need no transaction around them. On PostgreSQL each runs on its own
        (autocommit: no BEGIN or COMMIT to wait for), sees what was committed when it began, as
        in a READ COMMITTED transaction, and a write commits by itself. On SQLite, one
        transaction (`write`: begun IMMEDIATE), which costs no round trip."""
        if self.kind == "sqlite":
            with self.transaction(write=write) as tx:
                yield tx
            return
        with self._pool.connection() as conn:
            yield Tx(conn, "postgres", self.shared)

    def read(self, *, snapshot: bool = False) -> Any:
        """Reads: `statements()`, or with `snapshot` one transaction that sees one state throughout."""
        return self.transaction(write=False, snapshot=True) if snapshot else self.statements()

    @contextmanager
    def outside_transaction(self) -> Iterator[Any]:
        """A connection in autocommit mode for statements that cannot run in a transaction
        (VACUUM, WAL checkpoints): this thread's SQLite connection, or a dedicated PostgreSQL one."""
        if self.kind == "sqlite":
            yield self._sqlite()
            return
        with self.session_connection() as conn:
            yield conn

    @contextmanager
    def session_connection(self) -> Iterator[Any]:
        """A dedicated PostgreSQL connection outside the pool (advisory locks, LISTEN)."""
        conn = self.session_connection_open()
        try:
            yield conn
        finally:
            conn.close()

    def session_connection_open(self) -> Any:
        """`session_connection` for its caller to close."""
        import psycopg

        return psycopg.connect(self.url.conninfo(), autocommit=True)  # bounded connect, keepalives

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            for conn in self._sqlite_conns:
                conn.close()
            self._sqlite_conns.clear()
        self._local = threading.local()
