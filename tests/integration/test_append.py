"""PostgreSQL: an ordinary write is one statement, `salesledger_append_v1(events)`, which locks
the events table, notifies and inserts in its own transaction. What the library's pipelined
insert guaranteed still holds: positions commit in order, a version conflict writes nothing,
and processes that start together (on an empty database too) all start and find the function."""

import threading
import time
import uuid

import psycopg
import pytest

from domain.errors import VersionConflict
from domain.partner import Partner
from infrastructure.persistence import PostgresRecorder
from infrastructure.runtime import Runtime
from tests.helpers import META


def partner():
    return Partner.register(uuid.uuid4(), name=f"渠道 {uuid.uuid4().hex[:6]}", kind="agent", region="华东")


@pytest.fixture
def pg_runtime(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's append function")
    rt = Runtime(database_url).start()
    yield rt
    rt.close()


def test_a_write_waits_for_the_events_tables_lock_so_positions_commit_in_order(pg_runtime, database_url):
    rt = pg_runtime
    table = rt.store.recorder.events_table_name
    written: list[int] = []
    with psycopg.connect(database_url) as other:  # a writer in the middle of its transaction
        other.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        writer = threading.Thread(target=lambda: written.append(rt.store.record(META, partner())))
        writer.start()
        time.sleep(0.5)
        assert written == [] and writer.is_alive()  # waiting for the lock, not past it
        other.rollback()
    writer.join(10)
    assert written == [rt.source.head()]


def test_a_conflict_writes_nothing_and_the_positions_come_back(pg_runtime):
    rt = pg_runtime
    first, second = partner(), partner()
    head = rt.source.head()
    position = rt.store.record(META, first, second)  # one statement, two events
    assert position == rt.source.head() == head + 2
    assert [r.aggregate_id for r in rt.source.read(head, 10)] == [str(first.id), str(second.id)]
    again = Partner.register(first.id, name="渠道 甲", kind="agent", region="华东")  # version 1 again
    with pytest.raises(VersionConflict):
        rt.store.record(META, partner(), again)
    assert rt.source.head() == position  # neither event of the refused write


@pytest.mark.parametrize("before", ["an empty database", "a database from before the function"])
def test_processes_starting_together_all_start_and_find_the_function(database_url, before):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's append function")
    if before != "an empty database":
        Runtime(database_url).start().close()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP FUNCTION {PostgresRecorder.APPEND_FUNCTION}")
    errors: list[BaseException] = []

    def start():
        try:
            Runtime(database_url).start().close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with psycopg.connect(database_url) as conn:
        found = conn.execute("SELECT count(*) FROM pg_proc WHERE proname = %s", (PostgresRecorder.APPEND_FUNCTION,))
        assert found.fetchone()[0] == 1
