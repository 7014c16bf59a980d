"""A projector that cannot reach its database backs off and retries, shows `retrying` in the
projections' status with the error, and takes up its work once the database answers."""

import threading
import time
from dataclasses import replace

import pytest

from infrastructure.database import Database, DatabaseURL
from projections.engine import runner
from projections.engine.runner import ProjectionEngine, status, wait_for
from projections.pipeline import PIPELINE
from tests.helpers import seed_deal


def until(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def test_a_projector_that_cannot_connect_retries_and_says_so(runtime):
    if runtime.db.kind != "postgres":
        pytest.skip("a database that refuses connections: PostgreSQL on a closed port")
    url = replace(DatabaseURL.parse(runtime.db.url), port=1, connect_timeout=1.0)
    away = Database(url)
    engine = ProjectionEngine(away, runtime.source, [PIPELINE], poll_seconds=0.02)
    thread = threading.Thread(target=engine._run, args=(PIPELINE,), daemon=True)
    thread.start()
    try:
        until(lambda: PIPELINE.name in runner.retrying())
        row = status(runtime.db, runtime.source, [PIPELINE])[0]
        assert row["state"] == "retrying" and row["last_error"]["attempt"] >= 1
        assert "OperationalError" in row["last_error"]["message"] or "PoolTimeout" in row["last_error"]["message"]
        assert thread.is_alive()  # it never dies: it keeps trying
    finally:
        engine._stopping.set()
        thread.join(35)
        away.close()
    seed_deal(runtime.ledger)
    live = ProjectionEngine(runtime.db, runtime.source, [PIPELINE], poll_seconds=0.02)
    live.start()
    try:
        assert wait_for(runtime.db, PIPELINE.name, runtime.source.head())[0]
        until(lambda: status(runtime.db, runtime.source, [PIPELINE])[0]["state"] == "live")
    finally:
        live.stop()
