"""Customers and deals over HTTP on each backend: the full journey, pipeline analytics,
receivables, credit limits, stakeholders, lifecycle and refusals."""

from datetime import date

import pytest

from tests.e2e.session import Session


@pytest.fixture
def desk(client):
    return Session(client)


def head(desk):
    return desk.client.get("/events", params={"after": 0, "limit": 1000}).json()["items"][-1]["position"]


def test_journey_from_lead_to_refund(desk):
    senior = desk.rep("高级甲", "senior")
    helper = desk.rep("中级乙", "mid")
    lead = desk.lead("苏州新材料有限公司", product_line="IoT", size_band="large")
    desk.post(f"/leads/{lead['id']}/score", {"need_match": 5, "purchasing_power": 5, "decision_complexity": 1})
    desk.post(f"/leads/{lead['id']}/assign", {"rep_id": senior, "reason": "重点客户"})
    converted = desk.post(f"/leads/{lead['id']}/convert", {"amount": "300000.00", "converted_on": "2026-03-02"})
    deal, customer = converted["deal_id"], converted["customer_id"]
    for stage, day in [
        ("needs_analysis", "2026-03-06"),
        ("proposal", "2026-03-16"),
        ("needs_analysis", "2026-03-20"),
        ("proposal", "2026-03-26"),
        ("negotiation", "2026-04-05"),
    ]:
        desk.post(f"/deals/{deal}/stage", {"stage": stage, "changed_on": day})
    desk.post(f"/deals/{deal}/revise", {"amount": "320000.00", "expected_close": "2026-04-30", "reason": "增加模块"})
    desk.post(
        f"/deals/{deal}/line-items",
        {
            "items": [
                {"product_line": "IoT", "amount": "250000.00", "gross_margin": "90000.00"},
                {"product_line": "BI", "amount": "70000.00", "gross_margin": "20000.00"},
            ]
        },
    )
    desk.post(
        f"/deals/{deal}/splits",
        {
            "splits": [{"rep_id": senior, "share": "0.7"}, {"rep_id": helper, "share": "0.3"}],
            "overlays": [{"party": "华东渠道伙伴", "kind": "channel_partner", "share": "0.1"}],
        },
    )
    desk.post(
        f"/deals/{deal}/win",
        {"amount": "320000.00", "gross_margin": "110000.00", "signed_on": "2026-04-10", "contract_no": "HT-2026-0410"},
    )
    desk.post(f"/deals/{deal}/payments", {"amount": "100000.00", "received_on": "2026-05-01"})
    desk.post(f"/deals/{deal}/payments", {"amount": "150000.00", "received_on": "2026-06-01"})
    desk.post(f"/deals/{deal}/refunds", {"amount": "20000.00", "refunded_on": "2026-06-15", "reason": "部分退货"})

    view = desk.get(f"/customers/{customer}")
    assert view["lifecycle"] == "active" and view["lead_ids"] == [lead["id"]]
    [d] = view["deals"]
    assert (d["signed_amount"], d["collected"], d["refunded"], d["receivable"]) == (
        "320000.00",
        "250000.00",
        "20000.00",
        "90000.00",
    )
    assert [p["amount"] for p in view["payments"]] == ["100000.00", "150000.00"]
    assert view["lifecycle_history"][0]["to"] == "active"
    state = desk.client.get(f"/deals/{deal}").json()
    assert [h["to"] for h in state["stage_history"]] == [
        "initial_contact",
        "needs_analysis",
        "proposal",
        "needs_analysis",
        "proposal",
        "negotiation",
    ]
    assert state["overlays"][0]["share"] == "0.1" and state["payment_due_on"] == "2026-05-10"
    events = [e["type"] for e in desk.client.get("/events", params={"aggregate_id": deal}).json()["items"]]
    assert events.count("DealStageChanged") == 5 and events[-1] == "DealRefunded"

    board = desk.get("/pipeline", period="2026-03")
    velocity = {v["stage"]: v for v in board["velocity"]}
    # initial_contact 03-02→03-06 (4); needs_analysis 03-06→03-16 (10) and 03-20→03-26 (6);
    # proposal 03-16→03-20 (4) and 03-26→04-05 (10); negotiation 04-05→04-10 (5)
    assert (velocity["initial_contact"]["mean_days"], velocity["initial_contact"]["count"]) == ("4.00", 1)
    assert (velocity["needs_analysis"]["mean_days"], velocity["needs_analysis"]["median_days"]) == ("8.00", "8.00")
    assert velocity["proposal"]["count"] == 2 and velocity["negotiation"]["mean_days"] == "5.00"
    assert board["won"]["amount"] == "320000.00" and board["win_rate"] == "1.0000"

    rates = desk.get("/receivables", period="2026-Q2", as_of="2026-06-30")
    [row] = rates["rows"]
    assert (row["rep"], row["billed"], row["collected"], row["collection_rate"]) == (
        senior,
        "320000.00",
        "230000.00",
        "0.7188",
    )
    assert [o["deal_id"] for o in rates["overdue"]] == [deal] and rates["overdue"][0]["days_overdue"] == 51
    kpi = desk.get("/kpis", scope=f"rep:{helper}", period="2026-04")
    assert next(m for m in kpi["metrics"] if m["metric"] == "revenue")["actual"] == "96000.00"


def test_pipeline_forecast_conversion_and_loss_reasons(desk):
    rep = desk.rep("预测", "senior")
    customer = desk.post("/customers", {"name": "预测客户", "region": "华东", "industry": "retail", "owner_id": rep})[
        "id"
    ]

    def deal(amount, close, stages=(), outcome=None):
        d = desk.post(
            "/deals",
            {
                "customer_id": customer,
                "owner_id": rep,
                "amount": amount,
                "product_line": "ERP",
                "expected_close": close,
                "opened_on": "2026-05-01",
            },
        )["id"]
        for stage in stages:
            desk.post(f"/deals/{d}/stage", {"stage": stage, "changed_on": "2026-05-10"})
        if outcome == "won":
            desk.post(f"/deals/{d}/win", {"amount": amount, "gross_margin": "1.00", "signed_on": "2026-05-20"})
        elif outcome:
            desk.post(f"/deals/{d}/lose", {"reason": outcome, "competitor": "竞品A", "lost_on": "2026-05-21"})
        return d

    deal("100000.00", "2026-06-15")  # initial 10%
    deal("200000.00", "2026-06-30", ["needs_analysis", "proposal"])  # proposal 50%
    deal("40000.00", "2026-07-10", ["needs_analysis", "proposal", "negotiation"])  # negotiation 75%
    deal("50000.00", None, ["needs_analysis"], outcome="price")
    deal("60000.00", None, ["needs_analysis", "proposal", "negotiation"], outcome="won")
    deal("70000.00", None, [], outcome="price")
    deal("80000.00", None, ["needs_analysis", "proposal"], outcome="competitor")
    board = desk.get("/pipeline", owner_id=rep)
    assert board["forecast"] == [
        {"month": "2026-06", "count": 2, "amount": "300000.00", "weighted_amount": "110000.00"},
        {"month": "2026-07", "count": 1, "amount": "40000.00", "weighted_amount": "30000.00"},
    ]
    assert board["win_rate"] == "0.2500"
    assert board["loss_reasons"] == [
        {"reason": "price", "count": 2, "share": "0.6667"},
        {"reason": "competitor", "count": 1, "share": "0.3333"},
    ]
    conversion = {(c["from"], c["to"]): (c["reached_from"], c["reached_to"], c["rate"]) for c in board["conversion"]}
    assert conversion[("initial_contact", "needs_analysis")] == (7, 5, "0.7143")
    assert conversion[("needs_analysis", "proposal")] == (5, 4, "0.8000")
    assert conversion[("proposal", "negotiation")] == (4, 2, "0.5000")
    assert conversion[("negotiation", "won")] == (2, 1, "0.5000")
    desk.client.put(
        "/deals/policy", json={"settings": {"stage_probabilities": {"proposal": "0.60"}}, "reason": "历史赢率更高"}
    )
    later = deal("10000.00", "2026-08-01", ["needs_analysis", "proposal"])
    board = desk.get("/pipeline", owner_id=rep)
    august = next(f for f in board["forecast"] if f["month"] == "2026-08")
    assert august["weighted_amount"] == "6000.00"  # the new policy applies from now on
    assert desk.client.get(f"/deals/{later}").json()["probability"] == "0.60"
    assert board["forecast"][0]["weighted_amount"] == "110000.00"  # earlier events keep their probabilities


def test_credit_limit_refuses_then_a_manager_above_the_owner_overrides(desk):
    director = desk.rep("总监", "director", "销售总部", "全国", hired_on="2025-01-01")
    manager = desk.rep("经理", "manager", manager_id=director, hired_on="2025-01-01")
    other_manager = desk.rep("别组经理", "manager", "华东二组", manager_id=director, hired_on="2025-01-01")
    rep = desk.rep("销售", "senior", manager_id=manager, hired_on="2025-01-01")
    customer = desk.post("/customers", {"name": "信用客户", "region": "华东", "industry": "retail", "owner_id": rep})[
        "id"
    ]
    desk.post(
        f"/customers/{customer}/credit",
        {"rating": "BBB", "limit": "100000.00", "evidence": "审计报表 2025", "rated_on": "2026-01-10"},
    )
    desk.post("/deals", {"customer_id": customer, "owner_id": rep, "amount": "80000.00", "product_line": "ERP"})
    before = head(desk)
    refused = desk.post(
        "/deals", {"customer_id": customer, "owner_id": rep, "amount": "30000.00", "product_line": "BI"}, status=(409,)
    )
    assert refused["error"]["code"] == "credit_limit_exceeded"
    assert refused["error"]["details"]["exposure"] == "80000.00"

    def override(by, opened_on="2026-06-01"):
        return {
            "customer_id": customer,
            "owner_id": rep,
            "amount": "30000.00",
            "product_line": "BI",
            "opened_on": opened_on,
            "credit_override": {"manager_id": by, "reason": "战略合作，总经理批准"},
        }

    for outsider in (rep, other_manager):  # the owner themselves; a manager of another team
        not_allowed = desk.post("/deals", override(outsider), status=(409,))["error"]
        assert not_allowed["code"] == "override_not_allowed"
        assert not_allowed["details"]["field"] == "credit_override.manager_id"
        assert not_allowed["details"]["managers_above_owner"] == [manager, director]
    assert head(desk) == before
    ok = desk.post("/deals", override(manager))
    deal = desk.client.get(f"/deals/{ok['id']}").json()
    assert (deal["credit_override"]["manager_id"], deal["credit_override"]["limit"]) == (manager, "100000.00")
    assert deal["credit_override"]["exposure"] == "80000.00"
    assert desk.post("/deals", override(director))["id"]  # a director above the owner's manager
    history = desk.get(f"/customers/{customer}")["credit_history"]
    assert history[0]["evidence"] == "审计报表 2025"

    # the owner's line of management on the opening date decides: after a transfer to the other
    # team, the old manager can no longer override for deals opened from then on
    desk.post(
        f"/reps/{rep}/transfer",
        {
            "team": "华东二组",
            "region": "华东",
            "manager_id": other_manager,
            "effective_from": "2026-07-01",
            "reason": "调组",
        },
    )
    assert desk.post("/deals", override(manager, "2026-06-30"))["id"]
    moved = desk.post("/deals", override(manager, "2026-07-01"), status=(409,))["error"]
    assert moved["code"] == "override_not_allowed"
    assert desk.post("/deals", override(other_manager, "2026-07-01"))["id"]


@pytest.fixture
def today():
    """The organisation's date pinned to 2026-06-15 for the test."""
    from application import clock

    clock.set_today(date(2026, 6, 15))
    yield date(2026, 6, 15)
    clock.set_today(None)


def open_deal(desk, **extra):
    rep = desk.rep("日期", "senior", hired_on="2025-01-01")
    customer = desk.post("/customers", {"name": "日期客户", "region": "华东", "industry": "retail", "owner_id": rep})
    body = {"customer_id": customer["id"], "owner_id": rep, "amount": "1000.00", "product_line": "ERP", **extra}
    return rep, customer["id"], desk.post("/deals", body)["id"]


def test_a_stage_change_without_a_date_happens_today_and_says_so(desk, today):
    _, _, deal = open_deal(desk, opened_on="2026-06-01")
    moved = desk.post(f"/deals/{deal}/stage", {"stage": "proposal"})
    assert moved["changed_on"] == "2026-06-15"  # not the opening date
    dated = desk.post(f"/deals/{deal}/stage", {"stage": "negotiation", "changed_on": "2026-06-20"})
    assert dated["changed_on"] == "2026-06-20"
    state = desk.client.get(f"/deals/{deal}").json()
    assert [(h["to"], h["on"]) for h in state["stage_history"]] == [
        ("initial_contact", "2026-06-01"),
        ("proposal", "2026-06-15"),
        ("negotiation", "2026-06-20"),
    ]
    events = desk.client.get("/events", params={"aggregate_id": deal}).json()["items"]
    changes = [e["data"] for e in events if e["type"] == "DealStageChanged"]
    assert [c["changed_on"] for c in changes] == ["2026-06-15", "2026-06-20"]  # the event carries the date
    _, _, undated = open_deal(desk)
    assert desk.client.get(f"/deals/{undated}").json()["opened_on"] == "2026-06-15"
    desk.post(f"/deals/{undated}/stage", {"stage": "proposal", "changed_on": "2026-06-14"}, status=(422,))


def test_a_win_or_loss_before_the_deal_opened_is_refused(desk):
    rep, _, deal = open_deal(desk, opened_on="2026-05-10")
    desk.post(f"/deals/{deal}/stage", {"stage": "proposal", "changed_on": "2026-05-12"})
    before = head(desk)
    early = desk.post(
        f"/deals/{deal}/win", {"amount": "1000.00", "gross_margin": "100.00", "signed_on": "2026-05-09"}, status=(422,)
    )["error"]
    assert (early["code"], early["details"]["field"], early["details"]["opened_on"]) == (
        "invalid_input",
        "signed_on",
        "2026-05-10",
    )
    lost = desk.post(f"/deals/{deal}/lose", {"reason": "price", "lost_on": "2026-05-01"}, status=(422,))["error"]
    assert lost["details"]["field"] == "lost_on"
    assert head(desk) == before  # nothing written
    desk.post(f"/deals/{deal}/win", {"amount": "1000.00", "gross_margin": "100.00", "signed_on": "2026-05-20"})
    velocity = {v["stage"]: v for v in desk.get("/pipeline", owner_id=rep)["velocity"]}
    assert velocity["initial_contact"]["mean_days"] == "2.00" and velocity["proposal"]["mean_days"] == "8.00"


def test_lost_on_is_shown_on_the_deal(desk, today):
    _, _, dated = open_deal(desk, opened_on="2026-06-01")
    answer = desk.post(f"/deals/{dated}/lose", {"reason": "price", "lost_on": "2026-06-03"})
    assert answer["lost_on"] == "2026-06-03"
    assert desk.client.get(f"/deals/{dated}").json()["lost_on"] == "2026-06-03"
    _, _, undated = open_deal(desk, opened_on="2026-06-01")
    assert desk.post(f"/deals/{undated}/lose", {"reason": "price"})["lost_on"] == "2026-06-15"
    state = desk.client.get(f"/deals/{undated}").json()
    assert (state["status"], state["lost_on"]) == ("lost", "2026-06-15")


def test_kpis_and_receivables_give_one_collection_rate(desk):
    manager = desk.rep("回款经理", "manager", hired_on="2025-01-01")
    a = desk.rep("回款甲", "senior", manager_id=manager, hired_on="2025-01-01")
    b = desk.rep("回款乙", "mid", manager_id=manager, hired_on="2025-01-01")
    c = desk.rep("回款丙", "senior", "华南一组", "华南", hired_on="2025-01-01")
    customer = desk.post("/customers", {"name": "回款客户", "region": "华东", "industry": "retail"})["id"]

    def won(owner, amount, signed_on, splits=None):
        deal = desk.post(
            "/deals",
            {
                "customer_id": customer,
                "owner_id": owner,
                "amount": amount,
                "product_line": "ERP",
                "opened_on": "2026-03-01",
            },
        )["id"]
        if splits:
            desk.post(f"/deals/{deal}/splits", {"splits": splits})
        desk.post(f"/deals/{deal}/win", {"amount": amount, "gross_margin": "1.00", "signed_on": signed_on})
        return deal

    def paid(deal, amount, on):
        desk.post(f"/deals/{deal}/payments", {"amount": amount, "received_on": on})

    march = won(a, "30000.00", "2026-03-20")  # signed before the period: its cash in April does not count
    paid(march, "30000.00", "2026-04-05")
    shared = won(a, "100000.00", "2026-04-10", splits=[{"rep_id": a, "share": "0.6"}, {"rep_id": b, "share": "0.4"}])
    paid(shared, "60000.00", "2026-04-20")
    desk.post(f"/deals/{shared}/refunds", {"amount": "10000.00", "refunded_on": "2026-05-05", "reason": "退货"})
    cut = won(a, "50000.00", "2026-05-02")
    desk.post(
        f"/deals/{cut}/refunds",
        {"amount": "10000.00", "refunded_on": "2026-05-03", "reason": "取消一期", "kind": "cancellation"},
    )
    paid(cut, "20000.00", "2026-05-20")
    late = won(b, "40000.00", "2026-04-15")
    paid(late, "40000.00", "2026-07-01")  # collected after the quarter: it still counts for the deals signed in it
    won(c, "30000.00", "2026-06-01")

    # a: (60,000 - 10,000 + 20,000) / (100,000 + 50,000 - 10,000) = 70,000 / 140,000
    # b: 40,000 / 40,000; team 华东一组: 110,000 / 180,000; company: 110,000 / 210,000
    expected = {f"rep:{a}": "0.5000", f"rep:{b}": "1.0000", f"rep:{c}": "0.0000"}
    expected.update({"team:华东一组": "0.6111", "team:华南一组": "0.0000", "company": "0.5238"})
    kpis = {scope: desk.get("/kpis", scope=scope, period="2026-Q2")["collection_rate"] for scope in expected}
    assert kpis == expected
    by_rep = {r["rep"]: r for r in desk.get("/receivables", period="2026-Q2", as_of="2026-07-31")["rows"]}
    assert {f"rep:{rep}": row["collection_rate"] for rep, row in by_rep.items()} == {
        k: v for k, v in expected.items() if k.startswith("rep:")
    }
    assert (by_rep[a]["billed"], by_rep[a]["collected"], by_rep[a]["receivable"]) == (
        "140000.00",
        "70000.00",
        "70000.00",
    )
    by_team = {
        r["team"]: r["collection_rate"] for r in desk.get("/receivables", period="2026-Q2", group_by="team")["rows"]
    }
    assert by_team == {"华东一组": "0.6111", "华南一组": "0.0000"}
    assert desk.get("/kpis", scope=f"rep:{a}", period="2026-01")["collection_rate"] is None  # nothing signed


def test_stakeholders_feedback_distribution_and_lifecycle(desk):
    rep = desk.rep("客户经理", "senior")
    customer = desk.post(
        "/customers",
        {
            "name": "生命周期客户",
            "region": "华南",
            "industry": "energy",
            "owner_id": rep,
            "registered_on": "2026-01-05",
        },
    )["id"]
    added = desk.post(
        f"/customers/{customer}/stakeholders", {"name": "赵总", "role": "decision_maker", "title": "总经理"}
    )
    sid = added["stakeholder_id"]
    desk.post(f"/customers/{customer}/stakeholders", {"name": "钱工", "role": "user"})
    desk.client.patch(f"/customers/{customer}/stakeholders/{sid}", json={"title": "董事长"})
    changed = desk.client.patch(f"/customers/{customer}/stakeholders/{sid}", json={"title": "董事长"})
    assert changed.status_code == 409
    assert desk.client.patch(f"/customers/{customer}/stakeholders/{sid}", json={"role": "boss"}).status_code == 422
    assert desk.client.patch(f"/customers/{customer}/stakeholders/nope", json={"title": "x"}).status_code == 404
    desk.post(f"/customers/{customer}/feedback", {"score": 4, "comment": "服务及时", "given_on": "2026-02-01"})
    assert desk.client.post(f"/customers/{customer}/feedback", json={"score": 6}).status_code == 422
    desk.post(f"/customers/{customer}/classification", {"classification": "key", "reason": "年采购额大"})
    desk.post(f"/customers/{customer}/grade", {"grade": "A", "reason": "价值高"})
    updates = [
        e
        for e in desk.client.get("/events", params={"aggregate_id": customer}).json()["items"]
        if e["type"] == "CustomerStakeholderUpdated"
    ]
    assert updates[0]["data"]["changes"] == {"title": {"from": "总经理", "to": "董事长"}}

    view = desk.get(f"/customers/{customer}")
    assert {s["name"]: s["title"] for s in view["stakeholders"]} == {"赵总": "董事长", "钱工": None}
    assert view["feedback"][0]["score"] == 4 and view["classification"] == "key"

    deal = desk.post(
        "/deals",
        {
            "customer_id": customer,
            "owner_id": rep,
            "amount": "1000.00",
            "product_line": "IoT",
            "opened_on": "2026-02-10",
        },
    )["id"]
    desk.post(f"/deals/{deal}/win", {"amount": "1000.00", "gross_margin": "100.00", "signed_on": "2026-02-20"})
    quiet = desk.post("/customers/dormancy-check", {"as_of": "2026-04-01"})
    assert quiet["now_dormant"] == []
    dormant = desk.post("/customers/dormancy-check", {"as_of": "2026-06-01"})
    assert [d["customer_id"] for d in dormant["now_dormant"]] == [customer]
    assert desk.post("/customers/dormancy-check", {"as_of": "2026-06-01"})["now_dormant"] == []  # idempotent
    assert desk.client.get(f"/customers/{customer}").json()["lifecycle"] == "dormant"
    dist = desk.get("/customers/distribution")
    assert dist["by_lifecycle"] == {"dormant": 1} and dist["by_grade"] == {"A": 1} and dist["by_region"] == {"华南": 1}
    again = desk.post("/deals", {"customer_id": customer, "owner_id": rep, "amount": "500.00", "product_line": "IoT"})
    desk.post(f"/deals/{again['id']}/win", {"amount": "500.00", "gross_margin": "50.00", "signed_on": "2026-06-10"})
    history = desk.client.get(f"/customers/{customer}").json()["lifecycle_history"]
    assert [(h["from"], h["to"]) for h in history] == [
        ("prospect", "active"),
        ("active", "dormant"),
        ("dormant", "active"),
    ]
    desk.post(f"/customers/{customer}/churn", {"reason": "转向竞品", "on": "2026-09-01"})
    desk.post(f"/customers/{customer}/churn", {"reason": "again", "on": "2026-09-02"}, status=(409,))
    desk.post(f"/customers/{customer}/reactivate", {"reason": "重新合作", "on": "2026-10-01"})


def test_refusals_write_nothing(desk):
    rep = desk.rep("甲", "senior")
    customer = desk.post("/customers", {"name": "拒绝客户", "region": "华东", "industry": "retail", "owner_id": rep})[
        "id"
    ]
    deal = desk.post("/deals", {"customer_id": customer, "owner_id": rep, "amount": "1000.00", "product_line": "ERP"})[
        "id"
    ]
    desk.post(f"/deals/{deal}/win", {"amount": "1000.00", "gross_margin": "100.00", "signed_on": "2026-05-01"})
    desk.post(f"/deals/{deal}/payments", {"amount": "600.00", "received_on": "2026-05-10"})
    before = head(desk)
    cases = [
        (f"/deals/{deal}/payments", {"amount": "400.01", "received_on": "2026-05-11"}, 409),
        (
            f"/deals/{deal}/refunds",
            {"amount": "600.01", "refunded_on": "2026-05-12", "reason": "x", "kind": "refund"},
            409,
        ),
        (f"/deals/{deal}/refunds", {"amount": "1000.01", "refunded_on": "2026-05-12", "reason": "x"}, 409),
        (f"/deals/{deal}/refunds", {"amount": "1.00", "refunded_on": "2026-05-12", "reason": "x", "kind": "gift"}, 422),
        (f"/deals/{deal}/splits", {"splits": [{"rep_id": rep, "share": "0.5"}]}, 422),
        (f"/deals/{deal}/revise", {"amount": "5.00", "reason": "too late"}, 409),
        (f"/customers/{customer}/credit", {"rating": "ZZZ", "limit": "1.00", "evidence": "x"}, 422),
        (f"/customers/{customer}/classification", {"classification": "vip", "reason": "x"}, 422),
        (f"/customers/{customer}/reactivate", {"reason": "x"}, 409),
    ]
    for path, body, status in cases:
        desk.post(path, body, status=(status,))
    other = desk.post("/deals", {"customer_id": customer, "owner_id": rep, "amount": "10.00", "product_line": "ERP"})[
        "id"
    ]
    before = head(desk)
    desk.post(
        f"/deals/{other}/splits",
        {"splits": [{"rep_id": rep, "share": "0.6"}, {"rep_id": rep, "share": "0.4"}]},
        status=(422,),
    )
    assert head(desk) == before
    free_text = desk.post(f"/deals/{other}/lose", {"reason": "客户内部重组，项目取消"})
    assert desk.client.get(f"/deals/{other}").json()["lost_reason_code"] == "other" and free_text["version"] == 2
    policy = desk.client.put(
        "/deals/policy", json={"settings": {"stage_probabilities": {"proposal": "1.5"}}, "reason": "x"}
    )
    assert policy.status_code == 422


def test_a_dormancy_check_in_the_future_is_refused(desk):
    from datetime import date

    from application import clock

    rep = desk.rep("静", "senior")
    customer = desk.post(
        "/customers",
        {"name": "安静公司", "region": "华东", "industry": "retail", "owner_id": rep, "registered_on": "2026-01-05"},
    )["id"]
    deal = desk.post(
        "/deals",
        {"customer_id": customer, "owner_id": rep, "amount": "800.00", "product_line": "BI", "opened_on": "2026-02-10"},
    )["id"]
    desk.post(f"/deals/{deal}/win", {"amount": "800.00", "gross_margin": "80.00", "signed_on": "2026-02-20"})
    before = desk.client.app.state.runtime.source.head()
    try:
        clock.set_today(date(2026, 6, 1))
        refused = desk.post("/customers/dormancy-check", {"as_of": "2026-06-02"}, status=(422,))
        assert refused["error"]["details"]["field"] == "as_of"
        assert desk.client.app.state.runtime.source.head() == before  # nothing written
        checked = desk.post("/customers/dormancy-check", {})  # the organisation's today
        assert checked["as_of"] == "2026-06-01"
        assert [d["customer_id"] for d in checked["now_dormant"]] == [customer]
    finally:
        clock.set_today(None)
