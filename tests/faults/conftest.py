"""Fixtures for the fault suite: a clean PostgreSQL database, and a TCP proxy in front of it
that a test can cut and restore (the database "goes away" without touching the server)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import psycopg
import pytest


@pytest.fixture
def postgres_url(postgres_database):
    """An empty store on PostgreSQL only (faults that only PostgreSQL has)."""
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return postgres_database


def terminate_backends(url: str, where: str = "true", params: tuple = ()) -> int:
    """pg_terminate_backend every other session of the test database matching `where`."""
    dbname = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = %s AND pid <> pg_backend_pid() AND ({where})",
            (dbname, *params),
        ).fetchall()
    return len(rows)


class Proxy:
    """Forwards 127.0.0.1:<port> to the database server. `cut()` closes the listener and every
    connection through it (clients then see "connection refused"); `restore()` listens again on
    the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for s in [listener, *sockets]:
            if s is not None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied_postgres(postgres_url):
    """(URL through a cuttable proxy, the proxy) for a clean PostgreSQL store."""
    from infrastructure.database import DatabaseURL

    url = DatabaseURL.parse(postgres_url)
    proxy = Proxy((url.host, url.port))
    proxy.restore()
    base, dbname = postgres_url.rsplit("/", 1)
    netloc = base.split("://", 1)[1]
    userinfo = netloc.rsplit("@", 1)[0] + "@" if "@" in netloc else ""
    yield f"postgresql://{userinfo}127.0.0.1:{proxy.port}/{dbname}", proxy
    proxy.cut()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`salesledger serve` in a process of its own, on a free port; `kill()` is kill -9."""

    def __init__(self, database_url: str, token: str, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port), "--no-projectors"],
            env={**os.environ, "DATABASE_URL": database_url, "SALESLEDGER_ADMIN_TOKEN": token, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
