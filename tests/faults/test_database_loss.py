"""The database goes away: every request answers within a bounded time, 503 with Retry-After
while it cannot be reached (never a 500, never a hang, nothing half-written), `/health` stays
up (liveness), `/health/ready` says 503, and the API recovers by itself when it is back."""

import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.faults.conftest import terminate_backends
from tests.helpers import bearer

pytestmark = pytest.mark.faults

CONNECT_TIMEOUT = 1.0
BOUND = 4 * CONNECT_TIMEOUT + 2  # the longest any request may take while the database is away
REP = {"name": "断线", "level": "junior", "team": "t", "region": "华东"}


def started(url, **settings):
    settings = {"db_connect_timeout": CONNECT_TIMEOUT, "admin_token": ADMIN_TOKEN, **settings}
    client = TestClient(create_app(Settings(database_url=url, **settings)))
    client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    client.__enter__()
    return client


def timed(call):
    began = time.monotonic()
    answer = call()
    return answer, time.monotonic() - began


def until_ok(call, timeout):
    """Call until it answers 2xx; every answer meanwhile is a timely 503."""
    deadline = time.monotonic() + timeout
    while True:
        answer, took = timed(call)
        assert took < BOUND, f"took {took:.1f}s"
        if answer.status_code < 300:
            return answer
        assert answer.status_code == 503 and "Retry-After" in answer.headers, answer.text
        assert time.monotonic() < deadline, "never recovered"
        time.sleep(0.2)


def hired(client):
    return [e for e in client.get("/events", params={"type": "RepHired"}).json()["items"]]


def test_every_backend_terminated_then_the_next_requests_are_served(postgres_url):
    client = started(postgres_url)
    try:
        first = client.post("/reps", json=REP)
        assert first.status_code == 201
        key = bearer(client, "finance")
        assert terminate_backends(postgres_url) >= 3  # pools, projector locks, LISTEN: all dropped

        answer, took = timed(lambda: client.post("/reps", json={**REP, "name": "重连"}))
        assert answer.status_code == 201 and took < BOUND, answer.text  # dead pooled connections are replaced
        assert timed(lambda: client.get("/org", headers=key))[0].status_code == 200
        assert client.get("/health/ready").json() == {"status": "ready"}
        position = answer.json()["position"]
        org = until_ok(lambda: client.get("/org", params={"min_position": position}), 20)  # projectors are back
        assert "重连" in [node["name"] for node in org.json()["nodes"]]
        assert len(hired(client)) == 2
    finally:
        client.__exit__(None, None, None)


def test_an_unreachable_database_answers_503_with_retry_after_within_the_bound(proxied_postgres):
    url, proxy = proxied_postgres
    client = started(url)
    try:
        assert client.post("/reps", json=REP).status_code == 201
        key = bearer(client, "finance")  # a minted key: authentication itself reads the store
        rep = client.post("/reps", json={**REP, "name": "在线"}).json()["id"]

        proxy.cut()
        assert timed(lambda: client.get("/health"))[0].status_code == 200  # liveness needs no database
        for call in (
            lambda: client.get("/health/ready"),
            lambda: client.post("/reps", json={**REP, "name": "丢失"}),
            lambda: client.post("/reps", json={**REP, "name": "丢失"}, headers={"Idempotency-Key": "away-1"}),
            lambda: client.get(f"/reps/{rep}"),
            lambda: client.get("/pipeline"),
            lambda: client.get("/org", headers=key),
        ):
            answer, took = timed(call)
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"].isdigit()
            assert answer.json()["error"]["code"] == "database_unavailable"
            assert took < BOUND, f"took {took:.1f}s"

        proxy.restore()
        until_ok(lambda: client.get("/health/ready"), 20)
        assert until_ok(lambda: client.post("/reps", json={**REP, "name": "恢复"}), 20).status_code == 201
        assert until_ok(lambda: client.get("/org", headers=key), 20).status_code == 200
        retried = client.post("/reps", json={**REP, "name": "丢失"}, headers={"Idempotency-Key": "away-1"})
        assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
        names = sorted(e["data"]["name"] for e in hired(client))
        assert names == sorted([REP["name"], "在线", "恢复", "丢失"])  # nothing written while away, once after
    finally:
        client.__exit__(None, None, None)


def test_a_locked_sqlite_database_answers_503_with_retry_after_then_serves(tmp_path):
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    client = started(url, db_lock_timeout=1.0)
    try:
        assert client.post("/reps", json=REP).status_code == 201
        holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            answer, took = timed(lambda: client.post("/reps", json={**REP, "name": "锁住"}))
            assert answer.status_code == 503 and answer.headers["Retry-After"].isdigit(), answer.text
            assert answer.json()["error"]["code"] == "database_unavailable"
            assert took < 1.0 + 3
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.post("/reps", json={**REP, "name": "锁住"}).status_code == 201
        assert sorted(e["data"]["name"] for e in hired(client)) == sorted([REP["name"], "锁住"])
    finally:
        client.__exit__(None, None, None)
