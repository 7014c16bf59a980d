"""An `Idempotency-Key` claimed by a request that died (its server crashed or was killed) is a
lease that runs out within seconds; the retry then runs the command. Keys are scoped by the
API key that authenticated the request."""

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from domain.errors import Conflict
from infrastructure import idempotency
from tests.conftest import ADMIN_TOKEN
from tests.faults.conftest import Server
from tests.helpers import META, bearer

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


def test_a_retry_after_a_request_died_past_its_commit_answers_that_commit_and_writes_nothing(make_client):
    client = make_client(idempotency_lease=LEASE)
    runtime = client.app.state.runtime
    body = json.dumps({"name": "已提交", "level": "junior", "team": "t", "region": "华东"}).encode()
    digest = hashlib.sha256(b"POST /reps\n" + body).hexdigest()
    with runtime.db.transaction() as tx:
        tx.execute(
            "INSERT INTO idempotency_keys (principal, idempotency_key, request_hash, created_at, owner, lease_until) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ("token:admin", "died-2", digest, datetime.now(UTC).isoformat(), "dead-process", time.time() + LEASE),
        )
    # The dead request's command, committed under its claim; then the process died, unanswered.
    claimed = idempotency.current.set(idempotency.Claim("token:admin", "died-2", "dead-process"))
    try:
        committed = runtime.ledger.org.hire_rep(META, name="已提交", level="junior", team="t", region="华东")
    finally:
        idempotency.current.reset(claimed)

    retry = client.post(
        "/reps", content=body, headers={"Idempotency-Key": "died-2", "content-type": "application/json"}
    )
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true", retry.text
    assert retry.json() == {"id": committed.id, "version": committed.version, "position": committed.position}
    assert [e["aggregate_id"] for e in events_after(client, 0)] == [committed.id]  # the command ran once
    again = client.post(
        "/reps", content=body, headers={"Idempotency-Key": "died-2", "content-type": "application/json"}
    )
    assert again.json() == retry.json() and len(events_after(client, 0)) == 1


def test_a_request_whose_claim_was_taken_over_cannot_commit(runtime):
    now, clock = datetime.now(UTC), time.time()
    assert (
        idempotency.claim(runtime.db, "key:k", "raced", "h", now, owner="slow", lease_until=clock, clock=clock) is None
    )
    later = clock + 1  # the slow request's lease ran out: a retry took the claim over
    taken = idempotency.claim(runtime.db, "key:k", "raced", "h", now, owner="retry", lease_until=later + 5, clock=later)
    assert taken is None
    claimed = idempotency.current.set(idempotency.Claim("key:k", "raced", "slow"))
    try:
        with pytest.raises(Conflict) as refused:
            runtime.ledger.org.hire_rep(META, name="慢", level="junior", team="t", region="华东")
    finally:
        idempotency.current.reset(claimed)
    assert refused.value.code == "idempotency_taken_over"
    assert runtime.source.head() == 0  # nothing written by the request that lost its claim


def test_a_server_killed_mid_burst_loses_and_duplicates_nothing(database_url):
    """kill -9 the API in the middle of a burst of idempotent commands, restart it, and retry
    every command with its key: each ran exactly once, and every acknowledged answer stands."""
    keys = [f"burst-{i}" for i in range(60)]
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    first = Server(database_url, ADMIN_TOKEN, SALESLEDGER_IDEMPOTENCY_LEASE=str(LEASE))
    acknowledged: dict[str, dict] = {}

    def send(base, key, timeout=10.0):
        body = {"name": key, "level": "junior", "team": "t", "region": "华东"}
        return httpx.post(f"{base}/reps", json=body, headers={**auth, "Idempotency-Key": key}, timeout=timeout)

    def burst(key):
        try:
            answer = send(first.base, key)
        except httpx.HTTPError:
            return  # in flight when the server died: never acknowledged
        if answer.status_code == 201:
            acknowledged[key] = answer.json()

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(burst, key) for key in keys]
            while len(acknowledged) < 10:
                time.sleep(0.01)
            first.kill()
            for f in futures:
                f.result()
    finally:
        first.stop()
    assert 10 <= len(acknowledged) < len(keys)

    second = Server(database_url, ADMIN_TOKEN, SALESLEDGER_IDEMPOTENCY_LEASE=str(LEASE))
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            retried = dict(zip(keys, pool.map(lambda key: send(second.base, key, 30.0), keys), strict=True))
        assert {key: a.status_code for key, a in retried.items() if a.status_code != 201} == {}
        for key, answer in acknowledged.items():
            assert retried[key].json() == answer  # acknowledged answers stand
        events = httpx.get(f"{second.base}/events", params={"type": "RepHired", "limit": 1000}, headers=auth).json()
        names = sorted(e["data"]["name"] for e in events["items"])
        assert names == sorted(keys)  # every command ran exactly once
    finally:
        second.stop()
