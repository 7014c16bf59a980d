"""Organisation, targets, KPIs and leaderboards through the HTTP API, on each backend."""

import time
from datetime import UTC, datetime

import pytest

from tests.e2e.session import Session


class Org(Session):
    """A small organisation built through the API; everyone hired on 2025-01-01 unless told."""

    def rep(self, name, level, team="华东一组", region="华东", manager_id=None, hired_on="2025-01-01"):
        return super().rep(name, level, team, region, manager_id, hired_on)

    def customer(self, owner, name="客户", region="华东", registered_on="2026-11-03"):
        return self.post(
            "/customers",
            {
                "name": name,
                "region": region,
                "industry": "manufacturing",
                "owner_id": owner,
                "registered_on": registered_on,
            },
        )["id"]

    def won_deal(self, owner, amount, margin, signed_on, product_line="ERP", splits=None, customer=None):
        customer = customer or self.customer(owner)
        deal = self.post(
            "/deals", {"customer_id": customer, "owner_id": owner, "amount": amount, "product_line": product_line}
        )["id"]
        if splits:
            self.post(f"/deals/{deal}/splits", {"splits": splits})
        self.post(f"/deals/{deal}/win", {"amount": amount, "gross_margin": margin, "signed_on": signed_on})
        return deal


@pytest.fixture
def org(client):
    o = Org(client)
    o.director = o.rep("总监", "director", "销售总部", "全国")
    o.manager = o.rep("经理", "manager", "华东一组", "华东", o.director)
    o.a = o.rep("Amy 安", "senior", "华东一组", "华东", o.manager)
    o.b = o.rep("Bo 博", "mid", "华东一组", "华东", o.manager)
    o.c = o.rep("Cai 蔡", "junior", "华南一组", "华南", o.director)
    return o


def metric(scorecard, name):
    return next(m for m in scorecard["metrics"] if m["metric"] == name)


def test_org_tree_as_of_across_promotions_and_transfers(org):
    org.post(f"/reps/{org.b}/level", {"level": "senior", "effective_from": "2026-07-01", "reason": "年度晋升"})
    org.post(
        f"/reps/{org.b}/transfer",
        {
            "team": "华南一组",
            "region": "华南",
            "manager_id": org.director,
            "effective_from": "2026-09-01",
            "reason": "支援华南",
        },
    )
    org.post(f"/reps/{org.c}/level", {"level": "mid", "effective_from": "2026-03-01", "reason": "promotion"})

    def node(as_of, rep):
        return next(n for n in org.get("/org", as_of=as_of)["nodes"] if n["rep_id"] == rep)

    assert node("2026-06-30", org.b) == {
        "rep_id": org.b,
        "name": "Bo 博",
        "level": "mid",
        "manager_id": org.manager,
        "team": "华东一组",
        "region": "华东",
        "partner_id": None,
        "duties": "in-depth conversations and needs analysis",
    }
    assert (node("2026-07-01", org.b)["level"], node("2026-07-01", org.b)["team"]) == ("senior", "华东一组")
    assert (node("2026-09-01", org.b)["team"], node("2026-09-01", org.b)["manager_id"]) == ("华南一组", org.director)
    assert node("2026-02-28", org.c)["level"] == "junior" and node("2026-03-01", org.c)["level"] == "mid"
    assert org.get("/org", as_of="2024-12-31")["nodes"] == []  # nobody hired yet
    # a back-dated promotion recorded now changes the past view
    org.post(f"/reps/{org.a}/level", {"level": "manager", "effective_from": "2026-01-01", "reason": "backfill"})
    assert node("2026-02-01", org.a)["level"] == "manager"
    # refused changes
    assert (
        org.post(
            f"/reps/{org.manager}/transfer",
            {"manager_id": org.a, "effective_from": "2026-10-01", "reason": "cycle"},
            status=(409,),
        )["error"]["code"]
        == "manager_cycle"
    )
    assert org.post(
        f"/reps/{org.a}/level", {"level": "wizard", "effective_from": "2026-10-01", "reason": "x"}, status=(422,)
    )


def test_leaving_needs_open_work_reassigned(org):
    customer = org.customer(org.b)
    refused = org.post(f"/reps/{org.b}/leave", {"effective_on": "2026-11-30", "reason": "离职"}, status=(409,))
    assert refused["error"]["details"]["customers"] == [customer]
    refused = org.post(f"/reps/{org.manager}/leave", {"effective_on": "2026-11-30", "reason": "离职"}, status=(409,))
    assert set(refused["error"]["details"]["reports"]) == {org.a, org.b}
    org.post(f"/reps/{org.b}/leave", {"effective_on": "2026-11-30", "reason": "离职", "reassign_to": org.a})
    assert org.client.get(f"/customers/{customer}").json()["owner_id"] == org.a
    assert org.client.get(f"/reps/{org.b}").json()["status"] == "left"
    nodes = {n["rep_id"] for n in org.get("/org", as_of="2026-12-01")["nodes"]}
    assert org.b not in nodes and org.b in {n["rep_id"] for n in org.get("/org", as_of="2026-11-29")["nodes"]}


def test_decomposition_through_the_api(org):
    org.post("/targets", {"scope": "company", "period": "2026", "metric": "revenue", "value": "1200000.00"})
    mismatch = org.post(
        "/targets/decompose",
        {
            "period": "2026",
            "metric": "revenue",
            "parent": "company",
            "children": [{"scope": "region:华东", "value": "700000"}, {"scope": "region:华南", "value": "400000"}],
        },
        status=(409,),
    )
    assert mismatch["error"]["code"] == "decomposition_mismatch"
    org.post(
        "/targets/decompose",
        {
            "period": "2026",
            "metric": "revenue",
            "parent": "company",
            "children": [{"scope": "region:华东", "value": "800000"}, {"scope": "region:华南", "value": "400000"}],
        },
    )
    org.post(
        "/targets/decompose",
        {
            "period": "2026",
            "metric": "revenue",
            "parent": "region:华东",
            "children": [{"scope": "team:华东一组", "value": "800000"}],
        },
    )
    missing = org.post(
        "/targets/decompose",
        {
            "period": "2026",
            "metric": "revenue",
            "parent": "team:华北一组",
            "children": [{"scope": f"rep:{org.a}", "value": "1"}],
        },
        status=(409,),
    )
    assert missing["error"]["code"] == "target_missing"
    sheet = org.client.get("/targets/2026/revenue").json()
    assert {t["scope"]: t["value"] for t in sheet["targets"]} == {
        "company": "1200000.00",
        "region:华东": "800000.00",
        "region:华南": "400000.00",
        "team:华东一组": "800000.00",
    }
    assert [h["type"] for h in sheet["history"]] == [
        "TargetSheetTargetSet",
        "TargetSheetDecomposed",
        "TargetSheetDecomposed",
    ]
    assert org.post(f"/reps/{org.a}/targets", {"period": "2026-11", "metric": "revenue", "value": 1.5}, status=(422,))
    assert org.post(f"/reps/{org.a}/targets", {"period": "2026-11", "metric": "smiles", "value": "1"}, status=(422,))


def test_kpis_against_hand_computed_figures(org):
    d = org.won_deal(
        org.a,
        "100000.00",
        "30000.00",
        "2026-11-05",
        splits=[{"rep_id": org.a, "share": "0.6"}, {"rep_id": org.b, "share": "0.4"}],
    )
    org.post(f"/deals/{d}/payments", {"amount": "40000.00", "received_on": "2026-11-20"})
    org.won_deal(org.c, "50000.00", "10000.00", "2026-10-30", product_line="BI")
    customer = org.customer(org.a, registered_on="2026-11-10")
    org.post(f"/customers/{customer}/grade", {"grade": "A", "reason": "战略客户"})
    for day in ("2026-11-03T10:00:00+08:00", "2026-11-17T15:30:00+08:00"):
        org.post(f"/customers/{customer}/visits", {"rep_id": org.a, "kind": "visit", "occurred_at": day})
    org.post(f"/reps/{org.a}/targets", {"period": "2026-11", "metric": "revenue", "value": "100000.00"})
    org.post("/targets", {"scope": "team:华东一组", "period": "2026-Q4", "metric": "revenue", "value": "300000.00"})
    org.post("/targets", {"scope": "company", "period": "2026", "metric": "revenue", "value": "1200000.00"})

    rep_a = org.get("/kpis", scope=f"rep:{org.a}", period="2026-11")
    assert metric(rep_a, "revenue") == {
        "metric": "revenue",
        "target": "100000.00",
        "actual": "60000.00",
        "attainment": "0.6000",
        "target_source": "set",
    }
    assert metric(rep_a, "gross_margin")["actual"] == "18000.00" and metric(rep_a, "gross_margin")["target"] is None
    assert metric(rep_a, "contracts_signed")["actual"] == 1
    assert metric(rep_a, "collections")["actual"] == "24000.00"
    assert metric(rep_a, "visits")["actual"] == 2 and metric(rep_a, "new_customers")["actual"] == 2
    assert rep_a["collection_rate"] == "0.4000"
    assert (rep_a["working_days"], rep_a["visits_per_working_day"]) == (21, "0.0952")
    assert rep_a["product_mix"] == [{"product_line": "ERP", "revenue": "60000.00", "share": "1.0000"}]
    assert rep_a["active_customers_by_grade"] == {"A": 0, "B": 0, "C": 0, "ungraded": 1}

    team = org.get("/kpis", scope="team:华东一组", period="2026-11")
    assert metric(team, "revenue") == {
        "metric": "revenue",
        "target": "100000.00",
        "actual": "100000.00",
        "attainment": "1.0000",
        "target_source": "prorated from 2026-Q4",
    }
    assert metric(team, "contracts_signed")["actual"] == 1 and team["members"] == 3
    company = org.get("/kpis", scope="company", period="2026-11")
    assert (metric(company, "revenue")["actual"], metric(company, "revenue")["target"]) == ("100000.00", "100000.00")
    assert metric(company, "revenue")["target_source"] == "prorated from 2026"
    assert company["product_mix"][0]["product_line"] == "ERP"
    quarter = org.get("/kpis", scope="company", period="2026-Q4")
    assert metric(quarter, "revenue")["actual"] == "150000.00"
    assert metric(quarter, "revenue")["target"] == "300000.00"  # 1,200,000 / 4
    assert [p["product_line"] for p in quarter["product_mix"]] == ["ERP", "BI"]
    south = org.get("/kpis", scope="region:华南", period="2026-10")
    assert metric(south, "revenue")["actual"] == "50000.00" and metric(south, "revenue")["attainment"] is None


def test_a_back_dated_deal_lands_in_its_business_period(org):
    org.won_deal(org.a, "10000.00", "1000.00", "2026-11-02")
    org.won_deal(org.a, "7000.00", "700.00", "2026-10-15")  # recorded in November, signed in October
    october = org.get("/kpis", scope=f"rep:{org.a}", period="2026-10")
    november = org.get("/kpis", scope=f"rep:{org.a}", period="2026-11")
    assert metric(october, "revenue")["actual"] == "7000.00"
    assert metric(november, "revenue")["actual"] == "10000.00"


def test_facts_follow_the_team_a_rep_was_in_on_the_business_date(org):
    org.post(
        f"/reps/{org.b}/transfer",
        {"team": "华南一组", "region": "华南", "effective_from": "2026-11-15", "reason": "支援华南"},
    )
    org.won_deal(org.b, "1000.00", "100.00", "2026-11-14")
    org.won_deal(org.b, "2000.00", "200.00", "2026-11-15")
    east = org.get("/kpis", scope="team:华东一组", period="2026-11")
    south = org.get("/kpis", scope="team:华南一组", period="2026-11")
    assert metric(east, "revenue")["actual"] == "1000.00" and metric(south, "revenue")["actual"] == "2000.00"


def test_leaderboard_dense_ranks_ties_by_name_and_rank_change(org):
    d = org.rep("Dan 丹", "mid", "华东一组", "华东", org.manager)
    org.won_deal(org.c, "50000.00", "1.00", "2026-10-20")
    org.won_deal(org.a, "60000.00", "1.00", "2026-11-03")
    org.won_deal(org.b, "40000.00", "1.00", "2026-11-04")
    org.won_deal(d, "40000.00", "1.00", "2026-11-05")
    board = org.get("/leaderboards/revenue", period="2026-11", scope="company", limit=3)
    ranked = [(r["rank"], r["name"], r["value"]) for r in board["rows"]]
    assert ranked == [(1, "Amy 安", "60000.00"), (2, "Bo 博", "40000.00"), (2, "Dan 丹", "40000.00")]
    assert board["best"][0]["rep_id"] == org.a
    full = org.get("/leaderboards/revenue", period="2026-11", limit=100)["rows"]
    cai = next(r for r in full if r["rep_id"] == org.c)
    assert (cai["rank"], cai["previous_rank"], cai["rank_change"]) == (3, 1, -2)
    amy = next(r for r in full if r["rep_id"] == org.a)
    assert (amy["previous_rank"], amy["rank_change"]) == (2, 1)
    cut = org.get("/leaderboards/revenue", period="2026-11", limit=2)["rows"]
    assert [r["name"] for r in cut] == ["Amy 安", "Bo 博", "Dan 丹"]  # everyone tied at the cut
    east = org.get("/leaderboards/revenue", period="2026-11", scope="team:华东一组")["rows"]
    assert org.c not in {r["rep_id"] for r in east}
    org.post(f"/reps/{org.a}/targets", {"period": "2026-11", "metric": "revenue", "value": "50000.00"})
    assert org.get("/leaderboards/revenue", period="2026-11")["rows"][0]["attainment"] == "1.2000"
    counts = org.get("/leaderboards/contracts_signed", period="2026-11")["rows"]
    assert [r["value"] for r in counts[:3]] == [1, 1, 1]


def test_a_leaderboard_as_of_a_past_moment_uses_only_what_was_recorded_then(org):
    org.won_deal(org.b, "30000.00", "1.00", "2026-11-04")
    time.sleep(0.05)
    then = datetime.now(UTC)
    time.sleep(0.05)
    org.won_deal(org.a, "90000.00", "1.00", "2026-11-02")  # recorded later, signed earlier
    now = org.get("/leaderboards/revenue", period="2026-11")["rows"]
    past = org.get("/leaderboards/revenue", period="2026-11", as_of=then.isoformat())["rows"]
    assert now[0]["rep_id"] == org.a
    assert past[0]["rep_id"] == org.b and next(r for r in past if r["rep_id"] == org.a)["value"] == "0.00"


@pytest.mark.parametrize(
    "path, params",
    [
        ("/kpis", {"period": "2026-13"}),
        ("/kpis", {"period": "2026-11", "scope": "galaxy"}),
        ("/leaderboards/smiles", {"period": "2026-11"}),
        ("/leaderboards/revenue", {"period": "2026-11", "limit": 0}),
        ("/org", {"as_of": "yesterday"}),
    ],
)
def test_bad_performance_queries_are_422(client, path, params):
    answer = client.get(path, params=params)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_input"


def test_unknown_rep_scope_is_404(client):
    assert client.get("/kpis", params={"period": "2026-11", "scope": "rep:nobody"}).status_code == 404


def _head(org):
    return org.client.app.state.runtime.source.head()


def test_only_a_manager_or_director_on_the_effective_date_can_be_a_manager(org):
    before = _head(org)
    refused = org.post(
        "/reps", {"name": "新人", "level": "junior", "team": "华东一组", "region": "华东", "manager_id": org.b}, (409,)
    )
    assert refused["error"]["code"] == "manager_not_allowed"
    assert refused["error"]["details"]["field"] == "manager_id"
    assert (refused["error"]["details"]["manager_id"], refused["error"]["details"]["level"]) == (org.b, "mid")
    refused = org.post(
        f"/reps/{org.c}/transfer", {"manager_id": org.a, "effective_from": "2026-10-01", "reason": "换经理"}, (409,)
    )
    assert (refused["error"]["code"], refused["error"]["details"]["field"]) == ("manager_not_allowed", "manager_id")
    assert _head(org) == before  # nothing written

    # a promotion makes a manager from its effective date, not before
    org.post(f"/reps/{org.a}/level", {"level": "manager", "effective_from": "2026-10-01", "reason": "晋升"})
    too_early = org.post(
        f"/reps/{org.c}/transfer", {"manager_id": org.a, "effective_from": "2026-09-30", "reason": "换经理"}, (409,)
    )
    assert too_early["error"]["details"]["level"] == "senior"
    org.post(f"/reps/{org.c}/transfer", {"manager_id": org.a, "effective_from": "2026-10-01", "reason": "换经理"})
    assert org.client.get(f"/reps/{org.c}").json()["manager_id"] == org.a
    # hiring under someone not yet hired on the hiring date is refused too
    late = org.rep("新经理", "manager", manager_id=org.director, hired_on="2026-06-01")
    refused = org.post(
        "/reps",
        {
            "name": "早到",
            "level": "junior",
            "team": "华东一组",
            "region": "华东",
            "manager_id": late,
            "hired_on": "2026-05-01",
        },
        (409,),
    )
    assert refused["error"]["code"] == "manager_not_allowed" and refused["error"]["details"]["level"] is None
    assert org.rep("准时", "junior", manager_id=late, hired_on="2026-06-01")
    # a leaving manager's reports go only to someone who may manage them
    refused = org.post(
        f"/reps/{org.manager}/leave", {"effective_on": "2026-11-30", "reason": "离职", "reassign_to": org.b}, (409,)
    )
    assert (refused["error"]["code"], refused["error"]["details"]["field"]) == ("manager_not_allowed", "reassign_to")
    assert org.client.get(f"/reps/{org.manager}").json()["status"] == "active"


def test_a_future_dated_leave_stops_the_reps_key_on_its_date(org):
    from application import clock
    from tests.helpers import bearer

    key = bearer(org.client, "rep", org.c)
    assert org.client.get("/auth/whoami", headers=key).status_code == 200
    org.post(f"/reps/{org.c}/leave", {"effective_on": "2026-12-15", "reason": "合同到期"})
    try:
        clock.set_today(datetime(2026, 12, 14).date())
        assert org.client.get("/auth/whoami", headers=key).status_code == 200  # still working the notice
        clock.set_today(datetime(2026, 12, 15).date())
        assert org.client.get("/auth/whoami", headers=key).status_code == 401
        clock.set_today(datetime(2027, 1, 4).date())
        assert org.client.get("/auth/whoami", headers=key).status_code == 401
    finally:
        clock.set_today(None)


def test_a_target_is_recorded_in_one_place_whichever_route_sets_it(org):
    org.post(f"/reps/{org.a}/targets", {"period": "2026-11", "metric": "revenue", "value": "90000.00"})
    same = org.post(
        "/targets", {"scope": f"rep:{org.a}", "period": "2026-11", "metric": "revenue", "value": "90000.00"}, (409,)
    )
    assert same["error"]["code"] == "target_unchanged"
    org.post(
        "/targets",
        {"scope": f"rep:{org.a}", "period": "2026-11", "metric": "revenue", "value": "95000.00", "reason": "调整"},
    )
    sheet = org.client.get("/targets/2026-11/revenue").json()
    assert sheet["targets"] == [{"scope": f"rep:{org.a}", "value": "95000.00"}]
    assert [(h["type"], h["value"], h["previous"]) for h in sheet["history"]] == [
        ("TargetSheetTargetSet", "90000.00", None),
        ("TargetSheetTargetSet", "95000.00", "90000.00"),
    ]
    kpi = metric(org.get("/kpis", scope=f"rep:{org.a}", period="2026-11"), "revenue")
    assert (kpi["target"], kpi["target_source"]) == ("95000.00", "set")


def test_the_org_view_lists_levels_from_the_top(org):
    nodes = org.get("/org", as_of="2026-01-01")["nodes"]
    assert [n["level"] for n in nodes] == ["director", "manager", "senior", "mid", "junior"]
    assert nodes[-1]["duties"] == "first contact and information gathering"
