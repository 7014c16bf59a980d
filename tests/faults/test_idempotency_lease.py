"""An `Idempotency-Key` claimed by a request that died (its server crashed or was killed) is a
lease that runs out within seconds; the retry then runs the command. Keys are scoped by the
API key that authenticated the request."""

import hashlib
import json
import threading
import time
from datetime import UTC, datetime

import pytest

from infrastructure import idempotency
from tests.conftest import ADMIN_TOKEN
from tests.helpers import bearer

pytestmark = pytest.mark.faults

LEASE = 1.0


def events_after(client, position):
    return client.get("/events", params={"after": position}).json()["items"]


def test_a_claim_left_by_a_dead_request_is_taken_over_when_its_lease_runs_out(make_client):
    client = make_client(idempotency_lease=LEASE)
    db = client.app.state.runtime.db
    body = json.dumps({"name": "租约", "level": "junior", "team": "t", "region": "华东"}).encode()
    digest = hashlib.sha256(b"POST /reps\n" + body).hexdigest()
    # What a server killed in the middle of the request leaves behind: a claim without an
    # answer, its lease last renewed just before the crash.
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO idempotency_keys (principal, idempotency_key, request_hash, created_at, owner, lease_until) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ("token:admin", "crashed-1", digest, datetime.now(UTC).isoformat(), "dead-process", time.time() + LEASE),
        )
    started = time.monotonic()
    retry = client.post(
        "/reps", content=body, headers={"Idempotency-Key": "crashed-1", "content-type": "application/json"}
    )
    took = time.monotonic() - started
    assert retry.status_code == 201, retry.text
    assert "Idempotent-Replayed" not in retry.headers
    assert took < 5 * LEASE + 2  # the lease, not the 24 hours the key is remembered
    assert [e["type"] for e in events_after(client, 0)] == ["RepHired"]
    again = client.post(
        "/reps", content=body, headers={"Idempotency-Key": "crashed-1", "content-type": "application/json"}
    )
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == retry.json()
    assert len(events_after(client, 0)) == 1


def test_a_claim_whose_lease_is_renewed_is_not_taken_over(runtime):
    db, now = runtime.db, datetime.now(UTC)

    def claim(owner):
        clock = time.time()
        return idempotency.claim(db, "key:k", "renewed", "h", now, owner=owner, lease_until=clock + LEASE, clock=clock)

    assert claim("first") is None
    beating, stop = [], threading.Event()

    def heartbeat():
        while not stop.wait(LEASE / 4):
            beating.append(idempotency.renew(db, "key:k", "renewed", owner="first", lease_until=time.time() + LEASE))

    beat = threading.Thread(target=heartbeat)
    beat.start()
    try:
        deadline = time.monotonic() + 3 * LEASE
        while time.monotonic() < deadline:  # alive and renewing: the retry keeps waiting
            seen = claim("retry")
            assert seen is not None and seen.status is None
            time.sleep(0.1)
    finally:
        stop.set()
        beat.join()
    assert beating and all(beating)
    deadline = time.monotonic() + 3 * LEASE
    while (seen := claim("retry")) is not None:  # the owner stopped renewing: it died
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.1)
    assert not idempotency.renew(db, "key:k", "renewed", owner="first", lease_until=time.time() + LEASE)
    assert not idempotency.remember(db, "key:k", "renewed", 201, b"{}", owner="first")  # the late owner keeps out
    assert idempotency.remember(db, "key:k", "renewed", 201, b"{}", owner="retry")
    assert claim("third") == idempotency.Remembered("h", 201, b"{}")


def test_keys_are_scoped_by_the_api_key_not_by_how_the_header_is_written(client):
    body = {"name": "同一客户端", "level": "junior", "team": "t", "region": "华东"}
    first = client.post("/reps", json=body, headers={"Idempotency-Key": "scope-1"})
    respelled = client.post(
        "/reps", json=body, headers={"Idempotency-Key": "scope-1", "Authorization": f"bearer   {ADMIN_TOKEN}  "}
    )
    assert first.status_code == 201 and respelled.headers.get("Idempotent-Replayed") == "true"
    assert respelled.json()["id"] == first.json()["id"]

    rep = first.json()["id"]
    one, two = bearer(client, "rep", rep), bearer(client, "rep", rep)  # two keys of the same rep
    lead = {"company": "作用域", "source": "trade_show", "region": "华东", "industry": "retail"}
    a = client.post("/leads", json=lead, headers={**one, "Idempotency-Key": "scope-2"})
    b = client.post("/leads", json=lead, headers={**two, "Idempotency-Key": "scope-2"})
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers and a.json()["id"] != b.json()["id"]
    c = client.post("/leads", json={**lead, "company": "别的"}, headers={**two, "Idempotency-Key": "scope-2"})
    assert c.status_code == 422 and c.json()["error"]["code"] == "idempotency_key_reused"
