"""The HTTP API through the real FastAPI app, on each backend, projectors in-process."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import pytest

from tests.helpers import bearer


def head(client) -> int:
    items = client.get("/events", params={"after": 0, "limit": 1000}).json()["items"]
    return items[-1]["position"] if items else 0


def make_deal(client, amount="120000.00", team="华东一组", region="华东"):
    rep = client.post("/reps", json={"name": "李娜", "level": "senior", "team": team, "region": region}).json()
    customer = client.post(
        "/customers",
        json={"name": "杭州智能有限公司", "region": region, "industry": "manufacturing", "owner_id": rep["id"]},
    ).json()
    deal = client.post(
        "/deals",
        json={
            "customer_id": customer["id"],
            "owner_id": rep["id"],
            "amount": amount,
            "product_line": "ERP",
            "title": "二期项目",
        },
    )
    assert deal.status_code == 201
    return rep, customer, deal.json()


def test_health(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_commands_answer_id_version_position_and_reads_can_wait_for_them(client):
    _rep, _customer, deal = make_deal(client)
    assert {"id", "version", "position"} <= deal.keys() and deal["version"] == 1
    moved = client.post(f"/deals/{deal['id']}/stage", json={"stage": "negotiation"}).json()
    assert moved["version"] == 2 and moved["position"] == deal["position"] + 1
    board = client.get("/pipeline", params={"min_position": moved["position"]})
    assert board.status_code == 200
    negotiation = next(s for s in board.json()["stages"] if s["stage"] == "negotiation")
    assert negotiation == {
        "stage": "negotiation",
        "count": 1,
        "amount": "120000.00",
        "weighted_amount": "90000.00",
        "probability": "0.75",
    }
    won = client.post(
        f"/deals/{deal['id']}/win",
        json={"amount": "118000.00", "gross_margin": "35400.00", "signed_on": "2026-11-02", "contract_no": "HT-9"},
    ).json()
    paid = client.post(f"/deals/{deal['id']}/payments", json={"amount": "18000.00", "received_on": "2026-11-20"})
    assert paid.status_code == 200
    board = client.get("/pipeline", params={"min_position": won["position"], "team": "华东一组"}).json()
    assert board["won"]["count"] == 1 and board["won"]["amount"] == "118000.00"
    view = client.get(f"/deals/{deal['id']}").json()
    assert (view["status"], view["collected"], view["receivable"]) == ("won", "18000.00", "100000.00")


def test_min_position_answers_503_when_the_read_model_is_behind(make_client):
    writer = make_client(run_projectors=False, min_position_timeout=0.3)
    _, _, deal = make_deal(writer)
    answer = writer.get("/pipeline", params={"min_position": deal["position"]})
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "not_caught_up"
    assert answer.json()["error"]["details"]["position"] < deal["position"]


@pytest.mark.parametrize(
    "path, body",
    [
        ("/reps", {"name": "x", "level": "intern", "team": "t", "region": "r"}),
        ("/reps", {"name": "", "level": "junior", "team": "t", "region": "r"}),
        ("/reps", {"level": "junior", "team": "t", "region": "r"}),
        ("/reps", {"name": "x", "level": "junior", "team": "t", "region": "r", "hired_on": "2026-02-30"}),
        ("/reps", {"name": "x", "level": "junior", "team": "t", "region": "r", "unknown": 1}),
        ("/leads", {"company": "某公司", "source": "billboard", "region": "华东", "industry": "retail"}),
        ("/customers", {"name": "某公司", "region": "华东"}),
    ],
)
def test_bad_input_is_422_with_a_json_error_and_writes_nothing(client, path, body):
    before = head(client)
    answer = client.post(path, json=body)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and error["message"]
    assert head(client) == before


def test_bad_deal_commands(client):
    _, customer, deal = make_deal(client)
    before = head(client)
    cases = [
        (
            "/deals",
            {"customer_id": customer["id"], "owner_id": deal["id"], "amount": "10.00", "product_line": "BI"},
            404,
        ),
        ("/deals", {"customer_id": customer["id"], "owner_id": "x", "amount": 10.5, "product_line": "BI"}, 422),
        (f"/deals/{deal['id']}/stage", {"stage": "won"}, 422),
        (f"/deals/{deal['id']}/stage", {"stage": "initial_contact"}, 409),
        (f"/deals/{deal['id']}/win", {"amount": "-1", "gross_margin": "0", "signed_on": "2026-11-01"}, 422),
        (f"/deals/{deal['id']}/payments", {"amount": "10.00", "received_on": "2026-11-01"}, 409),
        (f"/deals/{deal['id']}/splits", {"splits": [{"rep_id": deal["id"], "share": "0.5"}]}, 422),
        ("/deals/not-a-deal/stage", {"stage": "proposal"}, 404),
        (f"/deals/{deal['id']}/lose", {}, 422),
        (f"/deals/{deal['id']}/stage", "not json", 422),
    ]
    for path, body, status in cases:
        answer = (
            client.post(path, json=body)
            if not isinstance(body, str)
            else client.post(path, content=body, headers={"content-type": "application/json"})
        )
        assert answer.status_code == status, (path, body, answer.text)
        assert set(answer.json()["error"]) == {"code", "message", "details"}
    assert head(client) == before


def test_if_match_concurrent_writers_one_wins_the_rest_409(client):
    _, _, deal = make_deal(client)
    stages = ["needs_analysis", "proposal", "negotiation"] * 2

    def move(stage):
        return client.post(f"/deals/{deal['id']}/stage", json={"stage": stage}, headers={"If-Match": "1"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(pool.map(move, stages))
    assert codes == [200] + [409] * 5
    events = client.get("/events", params={"aggregate_id": deal["id"]}).json()["items"]
    assert [e["type"] for e in events] == ["DealOpened", "DealStageChanged"]


def test_concurrent_writers_without_if_match_never_lose_an_event(client):
    _, _, deal = make_deal(client)

    def pay(i):
        return client.post(
            f"/deals/{deal['id']}/stage", json={"stage": ["needs_analysis", "proposal"][i % 2]}
        ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(pay, range(12)))
    assert set(codes) <= {200, 409} and 500 not in codes
    events = client.get("/events", params={"aggregate_id": deal["id"]}).json()["items"]
    assert len(events) == 1 + codes.count(200)
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))


def test_chinese_text_round_trips_through_commands_events_and_reads(client):
    rep = client.post("/reps", json={"name": "欧阳娜娜", "level": "mid", "team": "西南一组", "region": "西南"}).json()
    lead = client.post(
        "/leads",
        json={
            "company": "成都新材料科技有限公司",
            "source": "trade_show",
            "region": "西南",
            "industry": "新材料",
            "contact_name": "张伟",
            "wechat_id": "zhang_伟",
            "notes": "展会上留的名片；需要报价",
        },
    ).json()
    assert lead["duplicate_of"] is None
    assert client.get(f"/reps/{rep['id']}").json()["name"] == "欧阳娜娜"
    view = client.get(f"/leads/{lead['id']}").json()
    assert view["company"] == "成都新材料科技有限公司" and view["contact"]["notes"] == "展会上留的名片；需要报价"
    [event] = client.get("/events", params={"type": "LeadCaptured"}).json()["items"]
    assert event["data"]["contact"]["wechat_id"] == "zhang_伟" and event["actor"] == "admin:token"
    answer = client.get("/pipeline", params={"team": "西南一组", "min_position": lead["position"]})
    assert answer.json()["filters"] == {"team": "西南一组"}


def test_events_paging_filters_and_metadata(client):
    rep, _, deal = make_deal(client)
    page = client.get("/events", params={"after": 0, "limit": 2}).json()
    assert [e["position"] for e in page["items"]] == [1, 2] and page["next"] == 2
    rest = client.get("/events", params={"after": page["next"], "limit": 100}).json()
    assert rest["items"][0]["position"] == 3 and rest["next"] is None
    won = client.get("/events", params={"type": "RepHired"}).json()["items"]
    assert [e["aggregate_id"] for e in won] == [rep["id"]]
    manager = client.post("/reps", json={"name": "经理", "level": "manager", "team": "T", "region": "R"}).json()["id"]
    client.post(
        f"/reps/{rep['id']}/transfer", json={"manager_id": manager, "effective_from": "2026-01-01", "reason": "reorg"}
    )
    tagged = client.post(
        f"/deals/{deal['id']}/stage",
        json={"stage": "proposal"},
        headers={
            **bearer(client, "manager", manager),
            "X-Actor": "someone else",
            "X-Request-ID": "req-42",
            "X-Correlation-ID": "flow-1",
        },
    )
    assert tagged.headers["X-Request-ID"] == "req-42"
    [event] = client.get("/events", params={"after": tagged.json()["position"] - 1}).json()["items"]
    assert (event["actor"], event["causation_id"], event["correlation_id"]) == (
        f"manager:{manager}",
        "req-42",
        "flow-1",
    )
    assert client.get("/events", params={"type": "Nope"}).status_code == 422


def test_aggregate_history_version_and_as_of(client):
    _, _, deal = make_deal(client)
    client.post(f"/deals/{deal['id']}/stage", json={"stage": "proposal"})
    first = client.get(f"/deals/{deal['id']}", params={"version": 1}).json()
    assert first["stage"] == "initial_contact" and first["version"] == 1
    [opened] = client.get("/events", params={"aggregate_id": deal["id"], "limit": 1}).json()["items"]
    then = client.get(f"/deals/{deal['id']}", params={"as_of": opened["recorded_at"]}).json()
    assert then["version"] == 1
    assert client.get(f"/deals/{deal['id']}", params={"version": 5}).status_code == 404
    assert client.get(f"/deals/{deal['id']}", params={"as_of": "2000-01-01T00:00:00Z"}).status_code == 404


def test_projections_status(client):
    import time

    _, _, deal = make_deal(client)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = client.get("/projections").json()
        if all(r["lag"] == 0 for r in rows):
            break
        time.sleep(0.05)
    assert {r["name"] for r in rows} == {p.name for p in client.app.state.runtime.projections}
    for row in rows:
        assert row["position"] == row["head"] == deal["position"]
        assert row["lag"] == 0 and row["state"] == "live" and row["last_error"] is None


@pytest.mark.parametrize(
    "path, params",
    [
        ("/pipeline", {"team": "a\x00b"}),
        ("/pipeline", {"currency": "yuan"}),
        ("/events", {"after": 2**70}),
        ("/events", {"limit": 0}),
        ("/deals/00000000-0000-0000-0000-000000000000", {"version": 2**40}),
        ("/deals/00000000-0000-0000-0000-000000000000", {"as_of": "yesterday"}),
        ("/pipeline", {"min_position": -1}),
    ],
)
def test_bad_query_parameters_are_422_not_500(client, path, params):
    answer = client.get(path, params=params)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_input"


def test_absurd_amounts_are_refused(client):
    _, customer, deal = make_deal(client)
    for amount in ["1e400", "99999999999999999999", "NaN", "1,000.00"]:
        answer = client.post(
            "/deals",
            json={"customer_id": customer["id"], "owner_id": deal["id"], "amount": amount, "product_line": "ERP"},
        )
        assert answer.status_code in (404, 422) and answer.status_code != 500
        won = client.post(
            f"/deals/{deal['id']}/win", json={"amount": amount, "gross_margin": "0", "signed_on": "2026-11-01"}
        )
        assert won.status_code == 422, won.text


def test_event_browser_filters_by_actor_and_time_and_aggregates_have_histories(client):
    import time
    from datetime import datetime

    rep, _, deal = make_deal(client)
    time.sleep(0.02)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.02)
    client.post(f"/deals/{deal['id']}/stage", json={"stage": "proposal"}, headers=bearer(client, "rep", rep["id"]))
    client.post(f"/deals/{deal['id']}/stage", json={"stage": "negotiation"})
    by_actor = client.get("/events", params={"actor": f"rep:{rep['id']}"}).json()["items"]
    assert [(e["type"], e["actor"]) for e in by_actor] == [("DealStageChanged", f"rep:{rep['id']}")]
    later = client.get("/events", params={"from": middle}).json()["items"]
    assert [e["actor"] for e in later] == ["admin:token", f"rep:{rep['id']}", "admin:token"]
    earlier = client.get("/events", params={"to": middle}).json()["items"]
    assert [e["type"] for e in earlier] == ["RepHired", "CustomerRegistered", "DealOpened"]
    paged = client.get("/events", params={"actor": "admin:token", "limit": 2}).json()
    assert len(paged["items"]) == 2 and paged["next"] == paged["items"][-1]["position"]
    history = client.get(f"/deals/{deal['id']}/history").json()
    assert [e["version"] for e in history["events"]] == [1, 2, 3] and history["version"] == 3
    assert client.get(f"/reps/{rep['id']}/history").json()["events"][0]["type"] == "RepHired"
    assert client.get("/deals/00000000-0000-0000-0000-000000000000/history").status_code == 404
