"""The connection budget on PostgreSQL: however many requests run at once, a process holds at
most its pools' connections (read models and event store, SALESLEDGER_DB_POOL_SIZE each, and
the key vault's two), and a projector process adds only its lock session, its LISTEN and the
scheduler's lock."""

import threading
import uuid

import psycopg
import pytest

from domain.base import Meta
from domain.partner import Partner
from infrastructure.database import VAULT_POOL_SIZE, DatabaseURL
from infrastructure.runtime import Runtime
from infrastructure.settings import Settings


@pytest.fixture
def postgres_url(postgres_database):
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return postgres_database


def connections(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def busy(rt: Runtime, url: str, seconds: float = 2.0, threads: int = 24) -> list[int]:
    """Many threads reading read models, writing events and fetching keys at once; the most
    connections seen meanwhile."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            while not stop.is_set():
                with rt.db.read() as tx:
                    tx.value("SELECT pg_sleep(0.02)")
                rt.store.record(
                    Meta(actor="test"), Partner.register(uuid.uuid4(), name=f"渠道{i}", kind="agent", region="华东")
                )
                rt.vault.key(f"subject-{i}", create=True)
        except BaseException as error:  # reported below
            errors.append(error)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    seen = []
    timer = threading.Event()
    for _ in range(int(seconds / 0.1)):
        timer.wait(0.1)
        seen.append(connections(url))
    stop.set()
    for t in pool:
        t.join()
    assert not errors, errors[:3]
    return seen


def test_an_api_process_stays_within_its_pools(postgres_url):
    url = DatabaseURL.parse(postgres_url).with_pool(3)
    rt = Runtime(url).start()
    try:
        seen = busy(rt, postgres_url)
    finally:
        rt.close()
    assert max(seen) <= 2 * 3 + VAULT_POOL_SIZE
    assert max(seen) >= 3  # the load did use the pools


def test_a_projector_process_adds_three_sessions_at_most(postgres_url):
    url = DatabaseURL.parse(postgres_url).with_pool(3)
    rt = Runtime(url, run_projectors=True).start()
    try:
        seen = busy(rt, postgres_url)
    finally:
        rt.close()
    assert max(seen) <= 2 * 3 + VAULT_POOL_SIZE + 3  # + the lock session, LISTEN (no scheduler here)


def test_the_pool_size_is_a_setting():
    assert Settings(db_pool_size=9).database().pool_size == 9
    assert Settings().database().pool_size == 6
