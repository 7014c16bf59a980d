"""The active scheduler loses its database (its connections cut): the standby takes over and
runs the next moment, the cut one keeps its thread, says what went wrong, stands by once the
database is back, and takes over again when the other goes. No moment runs twice."""

import threading
from datetime import UTC, datetime

import pytest

from infrastructure.database import Database, DatabaseURL
from infrastructure.scheduler import Every, Job, Scheduler, ensure_schema, status
from tests.integration.test_scheduler import Clock, wait_until

pytestmark = pytest.mark.faults


def test_the_standby_scheduler_takes_over_from_one_that_lost_its_database(proxied_postgres, postgres_url):
    proxied_url, proxy = proxied_postgres
    clock = Clock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    runs, guard = [], threading.Lock()

    def job(name):
        def run(meta, as_of):
            with guard:
                runs.append((name, as_of.minute))
            return {}

        return Job("sla-check", Every(60), run)

    direct = Database(postgres_url)
    ensure_schema(direct)
    other = Database(postgres_url)
    cut = Database(DatabaseURL.parse(proxied_url).with_timeouts(connect=1.0, lock=2.0, statement=5.0))
    first = Scheduler(cut, [job("first")], now=clock, poll_seconds=0.02, runner="first").start()
    second = None
    try:
        assert wait_until(lambda: runs == [("first", 0)])
        second = Scheduler(other, [job("second")], now=clock, poll_seconds=0.02, runner="second")
        second.start()

        proxy.cut()  # the first one's lock session and connections are gone
        assert wait_until(lambda: second.active, timeout=30)
        clock.at = datetime(2026, 3, 10, 10, 1, tzinfo=UTC)
        second.poke()
        assert wait_until(lambda: runs[-1:] == [("second", 1)])
        assert wait_until(lambda: not first.active and first.last_error is not None)
        assert first._thread.is_alive()

        proxy.restore()
        assert wait_until(lambda: first.last_error is None, timeout=30)  # back, standing by
        assert not first.active and second.active

        second.stop()
        assert wait_until(lambda: first.active, timeout=30)
        clock.at = datetime(2026, 3, 10, 10, 2, tzinfo=UTC)
        first.poke()
        assert wait_until(lambda: runs[-1:] == [("first", 2)])
        assert [minute for _, minute in runs] == [0, 1, 2]  # each moment once
        assert wait_until(lambda: status(direct)[0]["last_moment"] == "2026-03-10T10:02:00+00:00")
        [row] = status(direct)
        assert (row["runner"], row["failures"]) == ("first", 0)
    finally:
        first.stop()
        if second is not None:
            second.stop()
        for db in (direct, other, cut):
            db.close()
