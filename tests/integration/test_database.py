"""The read-model database's transactions: snapshot reads, and the pools' liveness check that
spares a round trip for a connection that has heard nothing from the server."""

import threading
import time

import psycopg
import pytest

from infrastructure.database import Database, _quiet


def _count(db: Database) -> int:
    with db.read() as tx:
        return int(tx.value("SELECT COUNT(*) FROM facts"))


def _insert_elsewhere(db: Database) -> None:
    """Commit a row from another thread (another connection on either backend)."""

    def write() -> None:
        with db.transaction() as tx:
            tx.execute("INSERT INTO facts (n) VALUES (1)")

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()


def test_a_snapshot_read_sees_the_database_as_of_its_first_statement(database_url):
    db = Database(database_url)
    try:
        with db.transaction() as tx:
            tx.execute("CREATE TABLE facts (n INTEGER NOT NULL)")
        with db.read(snapshot=True) as tx:
            before = tx.value("SELECT COUNT(*) FROM facts")
            _insert_elsewhere(db)
            assert tx.value("SELECT COUNT(*) FROM facts") == before == 0  # the row committed meanwhile is not seen
        assert _count(db) == 1
        if db.kind == "postgres":  # a plain read sees each statement's latest commits (READ COMMITTED)
            with db.read() as tx:
                tx.value("SELECT COUNT(*) FROM facts")
                _insert_elsewhere(db)
                assert tx.value("SELECT COUNT(*) FROM facts") == 2
            with db._pool.connection() as conn:  # the pooled connection is back to the default
                assert conn.isolation_level is None
    finally:
        db.close()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_connection_the_server_dropped_is_not_quiet(database_url):
    """An idle connection passes without a ping; once its backend is terminated, the message the
    server leaves on the socket sends it to the real ping (which then replaces it)."""
    with psycopg.connect(database_url, autocommit=False) as conn:
        conn.execute("SELECT 1")
        conn.rollback()
        assert _quiet(conn)
        pid = conn.info.backend_pid
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            deadline = time.monotonic() + 5
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert not _quiet(conn)
    with psycopg.connect(database_url, autocommit=False) as busy:
        busy.execute("SELECT 1")  # inside a transaction: never handed out as quiet
        assert not _quiet(busy)
