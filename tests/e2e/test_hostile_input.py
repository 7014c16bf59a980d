"""Idempotent retries, oversized bodies and Unicode normalisation, through the real app."""

import unicodedata
from concurrent.futures import ThreadPoolExecutor


def events_after(client, position):
    return client.get("/events", params={"after": position}).json()["items"]


def test_a_retry_with_the_same_key_answers_the_original_and_writes_nothing(client):
    body = {"name": "幂等", "level": "junior", "team": "t", "region": "华东"}
    first = client.post("/reps", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/reps", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(events_after(client, 0)) == 1
    other = client.post("/reps", json={**body, "name": "别的"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    fresh = client.post("/reps", json=body, headers={"Idempotency-Key": "k-2"})
    assert fresh.json()["id"] != first.json()["id"]
    refused = client.post("/reps", json={**body, "level": "boss"}, headers={"Idempotency-Key": "k-3"})
    assert (
        client.post("/reps", json={**body, "level": "boss"}, headers={"Idempotency-Key": "k-3"}).json()
        == refused.json()
    )


def test_concurrent_duplicates_write_once(client):
    rep = client.post("/reps", json={"name": "并发", "level": "senior", "team": "t", "region": "华东"}).json()
    customer = client.post("/customers", json={"name": "并发客户", "region": "华东", "industry": "retail"}).json()
    head = rep["position"] + 1
    body = {"customer_id": customer["id"], "owner_id": rep["id"], "amount": "100.00", "product_line": "ERP"}

    def send(_):
        answer = client.post("/deals", json=body, headers={"Idempotency-Key": "same-deal"})
        return answer.status_code, answer.json()["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(6)))
    assert {status for status, _ in results} == {201} and len({deal for _, deal in results}) == 1
    assert [e["type"] for e in events_after(client, head)] == ["DealOpened"]


def test_oversized_bodies_are_refused(client):
    answer = client.post("/reps", content=b"{" + b" " * 1_100_000 + b"}", headers={"content-type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"
    assert events_after(client, 0) == []


def test_text_is_stored_in_one_unicode_normal_form(client):
    decomposed = unicodedata.normalize("NFD", "Café Zoë 客户")
    rep = client.post("/reps", json={"name": decomposed, "level": "junior", "team": "t", "region": "华东"}).json()
    assert client.get(f"/reps/{rep['id']}").json()["name"] == unicodedata.normalize("NFC", decomposed)
