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


def refused_field(answer):
    """The 422's named fields (from a request model's check or from the domain's)."""
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    return [e["field"] for e in error["details"].get("errors", [])] or [error["details"].get("field")]


ARABIC_INDIC_100 = "\u0661\u0660\u0660.\u0660\u0660"  # ١٠٠.٠٠
FULL_WIDTH_100 = "\uff11\uff10\uff10"  # １００
BIDI_AND_ZERO_WIDTH = ["\u202e", "\u202a", "\u202d", "\u2066", "\u2069", "\u200b", "\u200c", "\u200d", "\ufeff"]


def test_money_takes_ascii_digits_only(client):
    rep = client.post("/reps", json={"name": "数字", "level": "senior", "team": "t", "region": "华东"}).json()
    customer = client.post("/customers", json={"name": "数字客户", "region": "华东", "industry": "retail"}).json()
    body = {"customer_id": customer["id"], "owner_id": rep["id"], "product_line": "ERP"}
    head = customer["position"]
    for digits in (ARABIC_INDIC_100, FULL_WIDTH_100, "1e3", "1_000"):
        assert refused_field(client.post("/deals", json={**body, "amount": digits})) == ["amount"]
    deal = client.post("/deals", json={**body, "amount": "100.00"}).json()
    assert client.get(f"/deals/{deal['id']}").json()["amount"] == "100.00"
    for digits in (ARABIC_INDIC_100, FULL_WIDTH_100):
        answer = client.post(f"/deals/{deal['id']}/payments", json={"amount": digits, "received_on": "2026-03-01"})
        assert refused_field(answer) == ["amount"]
        split = {"splits": [{"rep_id": rep["id"], "share": "\uff11"}]}
        assert refused_field(client.post(f"/deals/{deal['id']}/splits", json=split)) == ["splits.0.share"]
    assert [e["type"] for e in events_after(client, head)] == ["DealOpened"]


def test_names_and_identifiers_refuse_bidi_controls_and_zero_width_characters(client):
    for mark in BIDI_AND_ZERO_WIDTH:
        answer = client.post("/reps", json={"name": f"王{mark}伟", "level": "junior", "team": "t", "region": "华东"})
        assert refused_field(answer) == ["name"], repr(mark)
        answer = client.post("/customers", json={"name": "客户", "region": f"华{mark}东", "industry": "retail"})
        assert refused_field(answer) == ["region"], repr(mark)
        assert refused_field(client.get("/leads", params={"region": f"华{mark}东"})) == ["region"]
    assert events_after(client, 0) == []
    ok = client.post("/reps", json={"name": "王伟 (Wang)", "level": "junior", "team": "t", "region": "华东"})
    assert ok.status_code == 201  # ordinary punctuation and scripts are untouched


def test_a_chunked_body_over_the_limit_is_refused(client):
    """No Content-Length (chunked transfer encoding): the limit holds on the streamed body."""

    def ten_megabytes():
        yield b'{"name": "'
        for _ in range(160):
            yield b"x" * 65_536
        yield b'", "level": "junior", "team": "t", "region": "r"}'

    for headers in (
        {"content-type": "application/json"},
        {"content-type": "application/json", "Idempotency-Key": "big"},
    ):
        answer = client.post("/reps", content=ten_megabytes(), headers=headers)
        assert "content-length" not in answer.request.headers
        assert answer.request.headers["transfer-encoding"] == "chunked"
        assert answer.status_code == 413, answer.text
        assert answer.json()["error"]["code"] == "payload_too_large"
    assert events_after(client, 0) == []
    parts = [b'{"name": "n", "level": "junior", ', b'"team": "t", "region": "r"}']
    small = client.post("/reps", content=iter(parts), headers={"content-type": "application/json"})
    assert small.status_code == 201  # a chunked body under the limit is served as usual


def test_the_body_limit_stops_reading_a_stream_at_the_limit(client):
    """Straight through the ASGI app: an endless streamed body is read only up to the limit."""
    import anyio

    from api.limits import MAX_BODY_BYTES

    chunk, pulled, sent = b"x" * 65_536, [], []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/reps",
        "raw_path": b"/reps",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", client.headers["authorization"].encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive():
        pulled.append(len(chunk))
        assert sum(pulled) < 20 * MAX_BODY_BYTES, "the app kept reading past the limit"
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    anyio.run(client.app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert sum(pulled) <= MAX_BODY_BYTES + len(chunk)
