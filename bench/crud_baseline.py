"""The plain-CRUD baseline that bench/writes.py compares salesledger's command endpoints with:
one FastAPI endpoint, `POST /items`, validating a small JSON body and inserting it as one row,
on PostgreSQL through a psycopg 3 pool or on SQLite through sqlite3. No events, no read models,
no authentication: what the same machine does for "insert a row over HTTP".

    CRUD_BASELINE_URL=postgresql://postgres@127.0.0.1:5432/db \\
        .venv/bin/uvicorn --factory crud_baseline:create_app --app-dir bench --port 8001
    CRUD_BASELINE_URL=sqlite:////tmp/baseline.db ...

Like salesledger's endpoints the handler is a plain `def` (run in the thread pool) and uses the
same connection budget as salesledger's event store (a pool of 5 growing to 15); SQLite runs in
WAL mode with the default (FULL) synchronous setting, as the event store does.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

DDL_POSTGRES = """CREATE TABLE IF NOT EXISTS crud_items (
    id bigserial PRIMARY KEY,
    body jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)"""
DDL_SQLITE = """CREATE TABLE IF NOT EXISTS crud_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""


class Item(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    company: str = Field(min_length=1, max_length=500)
    source: str = Field(min_length=1, max_length=500)
    region: str = Field(min_length=1, max_length=500)
    industry: str = Field(min_length=1, max_length=500)


class _Postgres:
    def __init__(self, url: str) -> None:
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(url, min_size=5, max_size=15, open=False, timeout=30)

    def open(self) -> None:
        self.pool.open(wait=True)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(7431001)")  # several workers may start at once
            conn.execute(DDL_POSTGRES)

    def insert(self, item: dict) -> int:
        from psycopg.types.json import Jsonb

        with self.pool.connection() as conn:
            return conn.execute("INSERT INTO crud_items (body) VALUES (%s) RETURNING id", (Jsonb(item),)).fetchone()[0]

    def close(self) -> None:
        self.pool.close()


class _SQLite:
    def __init__(self, path: str) -> None:
        self.path = path
        self.local = threading.local()
        self.lock = threading.Lock()
        self.conns: list[sqlite3.Connection] = []

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self.local.conn = conn
            with self.lock:
                self.conns.append(conn)
        return conn

    def open(self) -> None:
        self._conn().execute(DDL_SQLITE)

    def insert(self, item: dict) -> int:
        import json

        cursor = self._conn().execute("INSERT INTO crud_items (body) VALUES (?)", (json.dumps(item),))
        return cursor.lastrowid

    def close(self) -> None:
        with self.lock:
            for conn in self.conns:
                conn.close()


def create_app(url: str | None = None) -> FastAPI:
    url = url or os.environ["CRUD_BASELINE_URL"]
    store = _SQLite(url.removeprefix("sqlite:///")) if url.startswith("sqlite:") else _Postgres(url)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store.open()
        try:
            yield
        finally:
            store.close()

    app = FastAPI(title="crud baseline", lifespan=lifespan)

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/items", status_code=201)
    def insert(item: Item):
        return {"id": store.insert(item.model_dump())}

    return app
