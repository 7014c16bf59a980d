"""A projector whose advisory-lock session dies (its backend terminated) notices within a
second or two and stands down; a standby takes over; no event is applied twice."""

import threading
import time
import zlib

import psycopg
import pytest

from domain.customer import Customer
from domain.deal import Deal
from domain.rep import Rep
from infrastructure.runtime import Runtime
from projections.engine.projection import Projection, Rows, handles
from projections.engine.runner import ProjectionEngine, wait_for
from tests.faults.conftest import terminate_backends
from tests.helpers import seed_deal

pytestmark = pytest.mark.faults


class Tally(Projection):
    """How many times each event was applied: exactly once each, or the engine failed."""

    name = "tally"
    tables = {"seen": ["CREATE TABLE IF NOT EXISTS {seen} (position BIGINT PRIMARY KEY, times INTEGER NOT NULL)"]}

    def begin(self, tx, tables, batch):
        return Rows(tx, tables["seen"], "position", ["position", "times"])

    @handles(Rep.Hired, Customer.Registered, Deal.Opened)
    def count(self, seen, r):
        row = seen.get(r.position)
        seen.put({"position": r.position, "times": 1 + (row["times"] if row else 0)})


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_runner_that_loses_its_lock_session_stands_down_and_a_standby_takes_over(postgres_url):
    runtime = Runtime(postgres_url).start()
    tally = Tally()
    first = ProjectionEngine(runtime.db, runtime.source, [tally], poll_seconds=0.05)
    second = ProjectionEngine(runtime.db, runtime.source, [tally], poll_seconds=0.05)
    stop_writing, both, written = threading.Event(), [], []

    def write():
        while not stop_writing.is_set():
            written.append(seed_deal(runtime.ledger))
            time.sleep(0.02)

    def watch():  # moments when both engines claim the projection
        while not stop_writing.is_set():
            if first.running and second.running:
                both.append(time.monotonic())
            time.sleep(0.005)

    first.start()
    threads = [threading.Thread(target=write), threading.Thread(target=watch)]
    try:
        assert wait_until(lambda: first.running == {"tally"}, 10)
        second.start()
        for t in threads:
            t.start()
        time.sleep(1.0)
        assert second.running == set()  # standing by

        key = zlib.crc32(b"salesledger.projection.tally")
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            [(holder,)] = conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted", (key,)
            ).fetchall()
        assert terminate_backends(postgres_url, "pid = %s", (holder,)) == 1
        cut = time.monotonic()
        assert wait_until(lambda: first.running == set(), 2.5), "the runner kept going without its lock"
        stood_down = time.monotonic() - cut
        assert wait_until(lambda: second.running == {"tally"}, 8), "no standby took over"
        time.sleep(0.5)
    finally:
        stop_writing.set()
        for t in threads:
            if t.ident:
                t.join()
    try:
        assert first.running == set() and second.running == {"tally"}
        assert stood_down < 2.5
        assert not both or both[-1] - both[0] < 2.5  # any overlap is the detection window, no more
        assert wait_for(runtime.db, "tally", runtime.source.head(), timeout=10)[0]
        with runtime.db.read() as tx:
            table = tally.table_names(1)["seen"]
            rows = tx.all(f"SELECT position, times FROM {table} ORDER BY position")
        assert len(written) > 10
        assert {times for _, times in rows} == {1}  # nothing applied twice
        assert len(rows) == 3 * (len(written) + 0)  # nothing lost: a hire, a registration, an opening each
    finally:
        first.stop()
        second.stop()
        runtime.close()


def test_an_engine_holds_all_its_projection_locks_on_one_session_standbys_included(postgres_url):
    runtime = Runtime(postgres_url).start()
    names = [f"tally_{i}" for i in range(4)]
    projections = [type(name, (Tally,), {"name": name})() for name in names]
    keys = [zlib.crc32(f"salesledger.projection.{name}".encode()) for name in names]
    first = ProjectionEngine(runtime.db, runtime.source, projections, poll_seconds=0.05)
    second = ProjectionEngine(runtime.db, runtime.source, projections, poll_seconds=0.05)

    def holders():
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            return conn.execute(
                "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = ANY(%s) AND granted",
                (keys,),
            ).fetchall()

    def sessions():  # sessions ever opened on this database (this probe's own included)
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            return conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()[
                0
            ]

    try:
        first.start()
        assert wait_until(lambda: first.running == set(names), 10)
        assert len(holders()) == 1  # four locks, one session
        second.start()
        time.sleep(1)
        before = sessions()
        time.sleep(5)  # a standby tries every 2 s: on its one session, not on a new connection each time
        assert second.running == set()
        assert sessions() - before <= 2  # this probe, and perhaps a pooled connection
        [(holder,)] = holders()
        assert terminate_backends(postgres_url, "pid = %s", (holder,)) == 1
        assert wait_until(lambda: first.running == set(), 2.5)  # every projection stood down at once
        assert wait_until(lambda: second.running == set(names), 8)
        assert len(holders()) == 1
    finally:
        first.stop()
        second.stop()
        runtime.close()
