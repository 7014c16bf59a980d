"""One truth per fact on the read side: the org timeline places deals, leaderboards rank reps
and respect `limit`, unknown query parameters are refused, the event log filters by correlation."""

import pytest

from tests.e2e.test_organisation import Org


@pytest.fixture
def org(client):
    o = Org(client)
    o.director = o.rep("总监", "director", "销售总部", "全国")
    o.manager = o.rep("经理", "manager", "华东一组", "华东", o.director)
    o.a = o.rep("Amy 安", "senior", "华东一组", "华东", o.manager)
    return o


def test_a_transferred_reps_deals_follow_the_org_timeline(org):
    """Wins stay with the team the rep was in when they were signed; open deals move with the rep."""
    org.won_deal(org.a, "30000.00", "3000.00", "2026-02-10")
    customer = org.customer(org.a)
    open_deal = org.post(
        "/deals", {"customer_id": customer, "owner_id": org.a, "amount": "50000.00", "product_line": "ERP"}
    )["id"]
    org.post(
        f"/reps/{org.a}/transfer",
        {"team": "华南一组", "region": "华南", "effective_from": "2026-03-01", "reason": "new territory"},
    )
    old = org.get("/pipeline", team="华东一组", as_of="2026-06-30")
    new = org.get("/pipeline", team="华南一组", as_of="2026-06-30")
    assert (old["won"]["count"], old["open"]["count"]) == (1, 0)
    assert (new["won"]["count"], new["open"]["count"]) == (0, 1)
    assert org.get("/pipeline", region="华南", as_of="2026-06-30")["open"]["amount"] == "50000.00"
    before_move = org.get("/pipeline", team="华东一组", as_of="2026-02-20")  # the open deal, placed before the move
    assert before_move["open"]["count"] == 1 and open_deal
    east = org.get("/kpis", scope="team:华东一组", period="2026-02")
    assert next(m for m in east["metrics"] if m["metric"] == "revenue")["actual"] == "30000.00"


def test_leaderboards_rank_reps_and_respect_the_limit(org):
    reps = [org.rep(f"Rep {i:02d}", "mid", "华东一组", "华东", org.manager) for i in range(8)]
    for i, rep in enumerate(reps[:4]):
        org.won_deal(rep, f"{10000 * (i + 1)}.00", "1.00", "2026-11-03")
    org.won_deal(org.manager, "99000.00", "1.00", "2026-11-04")  # a manager's own sale
    board = org.get("/leaderboards/revenue", period="2026-11", limit=5)
    assert len(board["rows"]) == 5  # four sellers, then one of the zero-valued reps; the zero tie is not extended
    assert [r["value"] for r in board["rows"][:4]] == ["40000.00", "30000.00", "20000.00", "10000.00"]
    assert org.manager not in {r["rep_id"] for r in board["rows"]} and board["levels"] == ["junior", "mid", "senior"]
    with_leaders = org.get("/leaderboards/revenue", period="2026-11", limit=3, levels="mid,manager")
    assert with_leaders["rows"][0]["rep_id"] == org.manager
    assert [r["rank"] for r in with_leaders["rows"]] == [1, 2, 3]
    wrong = org.client.get("/leaderboards/revenue", params={"period": "2026-11", "levels": "mid,intern"})
    assert wrong.status_code == 422 and wrong.json()["error"]["details"]["field"] == "levels"


@pytest.mark.parametrize(
    "path, params, unknown",
    [
        ("/events", {"correlation": "x"}, "correlation"),
        ("/pipeline", {"teem": "华东一组"}, "teem"),
        ("/kpis", {"period": "2026-11", "scop": "company", "zz": "1"}, "scop"),
    ],
)
def test_unknown_query_parameters_are_refused(client, path, params, unknown):
    answer = client.get(path, params=params)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["field"] == unknown
    assert unknown in error["message"]


def test_the_event_log_filters_by_correlation_id(client):
    first = client.post(
        "/reps",
        json={"name": "甲", "level": "senior", "team": "T", "region": "R"},
        headers={"X-Correlation-ID": "onboarding-42"},
    )
    client.post("/reps", json={"name": "乙", "level": "senior", "team": "T", "region": "R"})
    page = client.get("/events", params={"correlation_id": "onboarding-42"}).json()
    assert [e["aggregate_id"] for e in page["items"]] == [first.json()["id"]]
    assert page["items"][0]["correlation_id"] == "onboarding-42"


def test_queries_of_the_store_itself_accept_min_position(client):
    rep = client.post("/reps", json={"name": "甲", "level": "senior", "team": "T", "region": "R"}).json()
    assert client.get(f"/reps/{rep['id']}", params={"min_position": rep["position"]}).status_code == 200
    assert client.get("/events", params={"min_position": rep["position"]}).status_code == 200
    beyond = client.get(f"/reps/{rep['id']}", params={"min_position": rep["position"] + 5})
    assert beyond.status_code == 422 and beyond.json()["error"]["details"]["field"] == "min_position"
