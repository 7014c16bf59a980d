"""Fixtures: every storage-touching test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL comes from SALESLEDGER_TEST_POSTGRES (default: the local server, user postgres).
A throwaway database is created for the session and dropped after; each test starts from
an empty schema. With REQUIRE_POSTGRES=1 an unreachable server fails the run.
"""

from __future__ import annotations

import os
import uuid

import pytest

from infrastructure.runtime import Runtime

ADMIN_URL = os.environ.get("SALESLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"


def _admin_connect():
    import psycopg

    return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres_database():
    """Create a throwaway database for this test session; yield its URL; drop it after."""
    try:
        admin = _admin_connect()
    except Exception as error:
        if REQUIRE_POSTGRES:
            pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unreachable at {ADMIN_URL}: {error}")
        pytest.skip(f"PostgreSQL unreachable at {ADMIN_URL}")
    name = f"salesledger_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A URL to an empty store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'salesledger.db'}"
        return
    url = request.getfixturevalue("postgres_database")
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    yield url


@pytest.fixture
def runtime(database_url):
    """A started runtime without background projectors: tests drive projections explicitly."""
    rt = Runtime(database_url).start()
    yield rt
    rt.close()


from tests.kit import kit  # noqa: E402, F401 -- the given/when/then fixture, on every backend

ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture
def make_client(database_url):
    """Factory for a TestClient over the real app (projectors in-process unless told otherwise)."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from infrastructure.settings import Settings

    clients = []

    def make(**settings):
        settings.setdefault("min_position_timeout", 5.0)
        settings.setdefault("admin_token", ADMIN_TOKEN)
        client = TestClient(create_app(Settings(database_url=database_url, **settings)))
        client.headers["Authorization"] = f"Bearer {settings['admin_token']}"
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()
