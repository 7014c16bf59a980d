"""The list routes (GET /reps, /customers, /deals, /plans) through the real app on each backend:
filters, cursor paging that walks every page exactly once, and role scoping."""

import pytest

from tests.e2e.session import Session
from tests.helpers import bearer


def walk(session, path, limit, **params):
    """Every item of a list, page by page; the pages' ids in order."""
    items, cursor, pages = [], None, 0
    while True:
        query = {**params, "limit": limit}
        if cursor is not None:
            query["after"] = cursor
        page = session.get(path, **query)
        items.extend(page["items"])
        pages += 1
        cursor = page["next"]
        if cursor is None:
            return items, pages
        assert pages < 100


@pytest.fixture
def world(client):
    s = Session(client)
    w = {"s": s}
    w["director"] = s.rep("总监", "director", team="总部", region="全国", hired_on="2025-01-01")
    w["m"] = s.rep("经理甲", "manager", manager_id=w["director"], hired_on="2025-01-01")
    w["east"] = [s.rep(f"东{i}", "mid", manager_id=w["m"], hired_on="2025-02-01") for i in range(4)]
    w["south"] = [
        s.rep(f"南{i}", "junior", team="华南一组", region="华南", manager_id=w["director"], hired_on="2025-03-01")
        for i in range(3)
    ]
    w["customers"], w["deals"] = {}, {}
    for i, rep in enumerate(w["east"] + w["south"]):
        customer = s.post(
            "/customers",
            {
                "name": f"客户{i}",
                "region": "华南" if rep in w["south"] else "华东",
                "industry": "制造",
                "owner_id": rep,
            },
        )["id"]
        w["customers"][customer] = rep
        for j in range(2):
            deal = s.post(
                "/deals",
                {"customer_id": customer, "owner_id": rep, "amount": f"{1000 + i * 10 + j}.00", "product_line": "ERP"},
            )["id"]
            w["deals"][deal] = rep
            if j == 0 and i % 2 == 0:
                s.post(f"/deals/{deal}/win", {"amount": "900.00", "gross_margin": "300.00", "signed_on": "2026-03-01"})
    return w


def test_reps_list_pages_filters_and_as_of(world):
    s = world["s"]
    everyone = [world["director"], world["m"], *world["east"], *world["south"]]
    for limit in (1, 2, 3, 50):
        items, pages = walk(s, "/reps", limit)
        ids = [i["rep_id"] for i in items]
        assert ids == sorted(everyone)  # each rep exactly once, in id order
        assert pages == -(-len(everyone) // limit) or (pages == len(everyone) // limit + 1)
    team = {i["rep_id"] for i in walk(s, "/reps", 2, team="华南一组")[0]}
    assert team == set(world["south"])
    mids = walk(s, "/reps", 5, level="mid", region="华东")[0]
    assert {i["rep_id"] for i in mids} == set(world["east"]) and all(i["team"] == "华东一组" for i in mids)
    assert walk(s, "/reps", 5, manager_id=world["m"])[0] == mids
    # before the south team was hired it was not there
    assert walk(s, "/reps", 5, team="华南一组", as_of="2025-02-15")[0] == []
    s.post(f"/reps/{world['east'][0]}/transfer", {"team": "华南一组", "effective_from": "2026-01-01", "reason": "调岗"})
    before = {i["rep_id"] for i in walk(s, "/reps", 5, team="华南一组", as_of="2025-12-31")[0]}
    after = {i["rep_id"] for i in walk(s, "/reps", 5, team="华南一组", as_of="2026-01-01")[0]}
    assert before == set(world["south"]) and after == set(world["south"]) | {world["east"][0]}


def test_customers_and_deals_lists_filter_and_page(world):
    s = world["s"]
    for limit in (1, 4, 100):
        customers, _ = walk(s, "/customers", limit)
        assert [c["customer_id"] for c in customers] == sorted(world["customers"])
        deals, _ = walk(s, "/deals", limit)
        assert [d["deal_id"] for d in deals] == sorted(world["deals"])
    south = set(world["south"])
    assert {c["customer_id"] for c in walk(s, "/customers", 2, region="华南")[0]} == {
        c for c, rep in world["customers"].items() if rep in south
    }
    assert {c["owner_id"] for c in walk(s, "/customers", 2, team="华南一组")[0]} == south
    rep = world["east"][1]
    owned = walk(s, "/deals", 1, owner_id=rep)[0]
    assert {d["deal_id"] for d in owned} == {d for d, r in world["deals"].items() if r == rep}
    won = walk(s, "/deals", 3, status="won")[0]
    assert len(won) == 4 and all(d["signed_amount"] == "900.00" and d["receivable"] == "900.00" for d in won)
    assert len(walk(s, "/deals", 3, status="open")[0]) == len(world["deals"]) - 4
    assert {d["owner_id"] for d in walk(s, "/deals", 3, team="华南一组")[0]} == south
    assert {d["owner_id"] for d in walk(s, "/deals", 3, region="华东")[0]} == set(world["east"])
    assert walk(s, "/deals", 3, external_id="nope")[0] == []
    # unknown filters and bad cursors are refused by name, never a 500
    answer = s.client.get("/deals", params={"colour": "red"})
    assert answer.status_code == 422
    assert s.client.get("/reps", params={"limit": 0}).status_code == 422
    assert s.client.get("/reps", params={"as_of": "2025-02-30"}).status_code == 422


def test_lists_are_scoped_by_role(world, client):
    s = world["s"]
    manager = bearer(client, "manager", world["m"])
    rep = bearer(client, "rep", world["south"][0])

    def ids(path, key, headers):
        answer = client.get(path, params={"limit": 500, "min_position": s.position}, headers=headers)
        assert answer.status_code == 200, answer.text
        return {i[key] for i in answer.json()["items"]}

    assert ids("/reps", "rep_id", manager) == {world["m"], *world["east"]}
    assert ids("/reps", "rep_id", rep) == {world["south"][0]}
    assert ids("/customers", "owner_id", manager) == set(world["east"])
    assert ids("/deals", "owner_id", rep) == {world["south"][0]}
    assert ids("/deals", "deal_id", bearer(client, "finance")) == set(world["deals"])


def test_plans_list(client):
    s = Session(client)
    body = {
        "currency": "CNY",
        "period": "month",
        "effective_from": "2026-01-01",
        "clawback_days": 180,
        "components": [
            {
                "name": "base",
                "type": "tiered_rate",
                "basis": "revenue",
                "payable_on": "booking",
                "tier_mode": "marginal",
                "thresholds": "amount",
                "tiers": [{"up_to": None, "rate": "0.05"}],
                "cap": None,
            }
        ],
    }
    plans = [s.post("/plans", {"name": f"方案{i}", **body})["id"] for i in range(3)]
    s.post(f"/plans/{plans[1]}/versions", {"name": "方案1", **body, "effective_from": "2026-06-01"})
    items, _ = walk(s, "/plans", 2)
    assert [p["id"] for p in items] == sorted(plans)
    second = next(p for p in items if p["id"] == plans[1])
    assert second["version"] == 2 and second["body"]["effective_from"] == "2026-06-01"
    assert [p["id"] for p in walk(s, "/plans", 2, name="方案2")[0]] == [plans[2]]


def test_list_answers_match_their_documented_models(world, client):
    from api.schemas import CustomerPage, DealPage, RepPage

    s = world["s"]
    for path, model in (("/reps", RepPage), ("/customers", CustomerPage), ("/deals", DealPage)):
        page = s.get(path, limit=3)
        assert model.model_validate(page).model_dump(mode="json")["items"] == page["items"]
    documented = client.app.openapi()["paths"]
    assert documented["/deals"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DealPage"
    }
