"""Commissions over HTTP on each backend: the worked examples, every semantic of the plan
body, close and corrections, clawbacks, explain, verify, simulate and CSV."""

import json
import re
from datetime import date
from decimal import Decimal

import pytest

from application import clock
from tests.e2e.session import Session


def tiered(mode="marginal", tiers=(("150000", "0.04"), ("250000", "0.06"), (None, "0.08")), **extra):
    return {
        "name": "base",
        "type": "tiered_rate",
        "basis": "revenue",
        "payable_on": "booking",
        "tier_mode": mode,
        "thresholds": "amount",
        "tiers": [{"up_to": u, "rate": r} for u, r in tiers],
        "cap": None,
        **extra,
    }


def plan(*components, effective_from="2026-01-01", clawback_days=180):
    return {
        "name": "Field sales 2026",
        "currency": "CNY",
        "period": "month",
        "effective_from": effective_from,
        "clawback_days": clawback_days,
        "components": list(components),
    }


class Books(Session):
    def __init__(self, client):
        super().__init__(client)
        self.customer = None

    def on_plan(self, rep, body, effective_from="2026-01-01"):
        plan_id = self.post("/plans", body)["id"]
        self.post(f"/reps/{rep}/plan", {"plan_id": plan_id, "effective_from": effective_from})
        return plan_id

    def win(self, owner, amount, signed_on, splits=None, margin=None):
        if self.customer is None:
            self.customer = self.post("/customers", {"name": "佣金客户", "region": "华东", "industry": "retail"})["id"]
        deal = self.post(
            "/deals", {"customer_id": self.customer, "owner_id": owner, "amount": amount, "product_line": "ERP"}
        )["id"]
        if splits:
            self.post(f"/deals/{deal}/splits", {"splits": splits})
        self.post(f"/deals/{deal}/win", {"amount": amount, "gross_margin": margin or "0.00", "signed_on": signed_on})
        return deal

    def statement(self, rep, period):
        answer = self.client.get(f"/commissions/statements/{rep}/{period}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def lines(self, rep, period, kind=None):
        return [x for x in self.statement(rep, period)["lines"] if kind is None or x["kind"] == kind]


@pytest.fixture
def books(client):
    clock.set_today(date(2027, 1, 15))  # every month these examples close has ended
    yield Books(client)
    clock.set_today(None)


def by_deal(lines, deal):
    return [x for x in lines if x["deal_id"] == deal]


def test_worked_example_marginal_tiers(books):
    rep = books.rep("边际", "senior")
    books.on_plan(rep, plan(tiered()))
    books.win(rep, "145000.00", "2026-11-03")
    crossing = books.win(rep, "20000.00", "2026-11-10")
    [line] = by_deal(books.lines(rep, "2026-11"), crossing)
    assert (line["kind"], line["basis_amount"], line["amount"]) == ("earned", "20000.00", "1100.00")
    walk = books.client.get(f"/commissions/lines/{line['id']}/explain").json()
    assert [(s["slice"], s["rate"]) for s in walk["tier_walk"]] == [("5000.00", "0.04"), ("15000.00", "0.06")]
    assert (walk["accumulated_before"], walk["accumulated_after"]) == ("145000.00", "165000.00")
    assert sum(Decimal(s["amount"]) for s in walk["tier_walk"]) == Decimal(line["amount"])
    assert walk["sources"][0]["type"] == "DealWon" and walk["plan_version"] == 1


MONEY_IN_EXPLAIN = re.compile(r"^-?\d+\.\d{2}$")


def money_values(explained, key=None):
    """Every (key, value) in an explanation whose key names money (rates and shares excluded)."""
    money_keys = {
        "basis",
        "basis_amount",
        "amount",
        "accumulated_before",
        "accumulated_after",
        "amount_before_rounding",
        "slice",
        "above",
        "up_to",
        "value",
        "closed_amount",
        "recomputed_amount",
        "already_corrected",
    }
    if isinstance(explained, dict):
        for k, v in explained.items():
            if k != "component":  # the plan component as written
                yield from money_values(v, k)
    elif isinstance(explained, list):
        for v in explained:
            yield from money_values(v, key)
    elif key in money_keys and explained is not None:
        yield key, explained


def test_explain_shows_money_with_two_decimals_and_rates_as_they_are(books):
    rep = books.rep("两位小数", "senior")
    odd = tiered(tiers=(("100000", "0.0375"), (None, "0.0625")))
    books.on_plan(rep, plan(odd))
    other = books.rep("同事", "senior")
    books.on_plan(other, plan(odd))
    deal = books.win(
        rep, "123456.78", "2026-11-03", splits=[{"rep_id": rep, "share": "0.7"}, {"rep_id": other, "share": "0.3"}]
    )
    [line] = by_deal(books.lines(rep, "2026-11"), deal)
    explained = books.get(f"/commissions/lines/{line['id']}/explain")  # with min_position, like every query
    far = books.client.get(f"/commissions/statements/{rep}/2026-11", params={"min_position": books.position + 99})
    assert far.status_code == 422 and far.json()["error"]["details"]["field"] == "min_position"
    # 0.7 x 123,456.78 = 86,419.746: the basis and the walk have three decimals before rounding
    assert explained["basis"] == "86419.75" and explained["accumulated_after"] == "86419.75"
    assert explained["tier_walk"] == [
        {"band": {"above": "0.00", "up_to": "100000.00"}, "slice": "86419.75", "rate": "0.0375", "amount": "3240.74"}
    ]
    assert explained["amount_before_rounding"] == "3240.74" and line["amount"] == "3240.74"
    assert explained["split_share"] == "0.7"  # a share, not money
    shown = list(money_values(explained))
    assert len(shown) > 8 and all(MONEY_IN_EXPLAIN.match(value) for _, value in shown), shown
    books.post(f"/deals/{deal}/payments", {"amount": "50000.00", "received_on": "2026-11-20"})
    books.post(
        f"/deals/{deal}/refunds",
        {"amount": "333.33", "refunded_on": "2026-11-25", "reason": "部分退货", "kind": "refund"},
    )
    [clawback] = books.lines(rep, "2026-11", "clawback")
    reversed_ = books.client.get(f"/commissions/lines/{clawback['id']}/explain").json()
    assert (reversed_["basis"], reversed_["amount_before_rounding"], clawback["amount"]) == ("233.33", "-8.75", "-8.75")
    assert all(MONEY_IN_EXPLAIN.match(value) for _, value in money_values(reversed_))
    rate = Decimal(reversed_["rate_originally_paid"])  # 3240.74 / 86419.746: a rate keeps its precision
    assert rate == Decimal("3240.74") / Decimal("86419.746") and len(reversed_["rate_originally_paid"]) > 10
    books.post("/commissions/periods/2026-11/close", {})
    frozen = books.client.get(f"/commissions/lines/{line['id']}/explain").json()
    assert frozen["status"] == "closed" and frozen["tier_walk"] == explained["tier_walk"]
    assert all(MONEY_IN_EXPLAIN.match(value) for _, value in money_values(frozen))


def test_split_deals_are_stored_in_one_shape_by_every_read_model(books, client):
    a, b = books.rep("拆分甲", "senior"), books.rep("拆分乙", "mid")
    books.on_plan(a, plan(tiered(tiers=((None, "0.10"),))))
    books.on_plan(b, plan(tiered(tiers=((None, "0.10"),))))
    split = books.win(
        a, "1000.00", "2026-11-02", splits=[{"rep_id": a, "share": "0.75"}, {"rep_id": b, "share": "0.25"}]
    )
    whole = books.win(b, "500.00", "2026-11-03")
    assert by_deal(books.lines(b, "2026-11"), split)[0]["basis_amount"] == "250.00"
    kpi = books.get("/kpis", scope=f"rep:{b}", period="2026-11")
    assert next(m for m in kpi["metrics"] if m["metric"] == "revenue")["actual"] == "750.00"
    from projections.commissions import COMMISSIONS
    from projections.engine.tracking import active_tables
    from projections.kpi import KPI

    rt = client.app.state.runtime
    stored = {}
    with rt.db.read() as tx:
        for projection in (COMMISSIONS, KPI):
            table = active_tables(tx, projection)["deals"]
            stored[projection.name] = dict(
                tx.all(f"SELECT deal_id, splits FROM {table} WHERE deal_id IN (?, ?)", (split, whole))
            )
    assert stored["commissions"] == stored["kpi"]
    assert json.loads(stored["kpi"][split]) == [{"rep_id": a, "share": "0.75"}, {"rep_id": b, "share": "0.25"}]
    assert json.loads(stored["kpi"][whole]) == [{"rep_id": b, "share": "1"}]
    assert books.client.get(f"/deals/{split}").json()["splits"] == json.loads(stored["kpi"][split])


def test_worked_example_retroactive_tiers(books):
    retro = tiered("retroactive", (("100", "0.10"), ("150", "0.12"), ("200", "0.14"), (None, "0.16")))
    a, b = books.rep("甲", "senior"), books.rep("乙", "senior")
    books.on_plan(a, plan(retro))
    books.on_plan(b, plan(retro))
    books.win(a, "125.00", "2026-11-03")
    books.win(b, "100.00", "2026-11-03")
    assert books.statement(a, "2026-11")["total"] == "15.00"
    assert books.statement(b, "2026-11")["total"] == "10.00"  # exactly on the boundary: the lower band
    books.win(b, "25.00", "2026-11-20")  # the total reaches 125: earlier lines are restated
    statement = books.statement(b, "2026-11")
    assert statement["total"] == "15.00"
    assert sorted(x["amount"] for x in statement["lines"]) == ["10.00", "2.00", "3.00"]
    assert [x["kind"] for x in statement["lines"]].count("adjustment") == 1


def test_worked_example_attainment_accelerator(books):
    rep = books.rep("加速", "senior")
    accelerator = tiered(
        thresholds="attainment", tiers=(("1.00", "0.06"), ("1.25", "0.08"), ("1.50", "0.10"), (None, "0.12"))
    )
    books.on_plan(rep, plan(accelerator))
    books.post(f"/reps/{rep}/targets", {"period": "2026-11", "metric": "revenue", "value": "375000.00"})
    deal = books.win(rep, "500000.00", "2026-11-05")
    [line] = by_deal(books.lines(rep, "2026-11"), deal)
    assert line["amount"] == "33125.00"
    explained = books.client.get(f"/commissions/lines/{line['id']}/explain").json()
    assert explained["target"]["value"] == "375000.00"
    nobody = books.rep("无目标", "senior")
    books.on_plan(nobody, plan(accelerator))
    other = books.win(nobody, "100000.00", "2026-11-05")
    [zero] = by_deal(books.lines(nobody, "2026-11"), other)
    assert zero["amount"] == "0.00"
    assert "no revenue target" in books.client.get(f"/commissions/lines/{zero['id']}/explain").json()["note"]


def test_per_transaction_cap_and_splits_under_each_reps_own_plan(books):
    a, b = books.rep("甲", "senior"), books.rep("乙", "mid")
    books.on_plan(a, plan(tiered("per_transaction", (("100000", "0.05"), (None, "0.10")), cap="7000.00")))
    books.on_plan(b, plan(tiered(tiers=((None, "0.02"),))))
    d1 = books.win(a, "120000.00", "2026-11-02", splits=[{"rep_id": a, "share": "0.5"}, {"rep_id": b, "share": "0.5"}])
    d2 = books.win(a, "150000.00", "2026-11-09")
    a_lines = books.lines(a, "2026-11")
    assert by_deal(a_lines, d1)[0]["amount"] == "3000.00"  # 60,000 walked from zero at 5%
    assert by_deal(a_lines, d1)[0]["basis_amount"] == "60000.00"
    assert by_deal(a_lines, d2)[0]["amount"] == "4000.00"  # 5,000 + 5,000 = 10,000, capped at 7,000 - 3,000
    assert by_deal(books.lines(b, "2026-11"), d1)[0]["amount"] == "1200.00"  # 60,000 at b's own 2%


def test_the_version_in_force_on_the_business_date_pays(books):
    rep = books.rep("版本", "senior")
    plan_id = books.on_plan(rep, plan(tiered(tiers=((None, "0.03"),))))
    later = books.post(f"/plans/{plan_id}/versions", plan(tiered(tiers=((None, "0.05"),)), effective_from="2026-11-15"))
    assert later["version"] == 2
    assert (
        books.client.post(f"/plans/{plan_id}/versions", json=plan(tiered(), effective_from="2026-11-01")).status_code
        == 409
    )
    before = books.win(rep, "10000.00", "2026-11-14")
    after = books.win(rep, "10000.00", "2026-11-15")
    lines = books.lines(rep, "2026-11")
    assert (by_deal(lines, before)[0]["amount"], by_deal(lines, before)[0]["plan_version"]) == ("300.00", 1)
    assert (by_deal(lines, after)[0]["amount"], by_deal(lines, after)[0]["plan_version"]) == ("500.00", 2)


def test_collection_pays_pro_rata_in_the_payments_month_and_clawback_uses_the_rate_paid(books):
    rep = books.rep("回款", "senior")
    plan_id = books.on_plan(rep, plan(tiered(payable_on="collection", tiers=((None, "0.05"),)), clawback_days=90))
    deal = books.win(rep, "100000.00", "2026-10-20")
    assert books.lines(rep, "2026-10") == []
    books.post(f"/deals/{deal}/payments", {"amount": "40000.00", "received_on": "2026-11-05"})
    [line] = books.lines(rep, "2026-11")
    assert (line["basis_amount"], line["amount"]) == ("40000.00", "2000.00")
    books.post(
        f"/plans/{plan_id}/versions",
        plan(tiered(payable_on="collection", tiers=((None, "0.09"),)), effective_from="2026-12-01", clawback_days=90),
    )
    books.post(f"/deals/{deal}/refunds", {"amount": "10000.00", "refunded_on": "2026-12-10", "reason": "退货"})
    [clawback] = books.lines(rep, "2026-12", "clawback")
    assert clawback["amount"] == "-500.00"  # at the 5% originally paid, not today's 9%
    explained = books.client.get(f"/commissions/lines/{clawback['id']}/explain").json()
    assert explained["reverses"] == [line["id"]] and explained["rate_originally_paid"] == "0.05"
    books.post(f"/deals/{deal}/refunds", {"amount": "1000.00", "refunded_on": "2027-02-01", "reason": "过期"})
    assert books.lines(rep, "2027-02", "clawback") == []  # beyond clawback_days


def test_override_rank_bonus_and_team_target_bonus(books):
    manager = books.rep("经理", "manager", team="华东一组")
    a = books.rep("Amy", "senior", team="华东一组", manager_id=manager)
    b = books.rep("Bob", "senior", team="华东一组", manager_id=manager)
    c = books.rep("Cat", "senior", team="华东二组")
    bonus = [
        {"name": "top 2", "type": "rank_bonus", "metric": "revenue", "top": 2, "amount": "2000"},
        {"name": "team", "type": "team_target_bonus", "amount": "10000"},
    ]
    rep_plan = plan(tiered(tiers=((None, "0.01"),)), *bonus)
    for rep in (a, b, c):
        books.on_plan(rep, rep_plan)
    books.on_plan(
        manager,
        plan(
            {"name": "override", "type": "override", "basis": "revenue", "rate": "0.03", "threshold": "50000"}, *bonus
        ),
    )
    books.post("/targets", {"scope": "team:华东一组", "period": "2026-11", "metric": "revenue", "value": "120000.00"})
    first = books.win(a, "40000.00", "2026-11-02")
    second = books.win(b, "60000.00", "2026-11-03")
    books.win(c, "60000.00", "2026-11-04")
    books.win(a, "20000.00", "2026-11-05")
    overrides = books.lines(manager, "2026-11", "override")
    assert by_deal(overrides, first)[0]["amount"] == "0.00"
    assert by_deal(overrides, second)[0]["amount"] == "1500.00"  # 40,000 + 60,000: 50,000 above the threshold x 3%
    assert sum(Decimal(x["amount"]) for x in overrides) == Decimal("2100.00")
    assert books.lines(a, "2026-11", "bonus") == []  # settled at close
    books.post("/commissions/periods/2026-11/close", {})
    bonus_a = {x["component"]: x["amount"] for x in books.lines(a, "2026-11", "bonus")}
    bonus_b = {x["component"]: x["amount"] for x in books.lines(b, "2026-11", "bonus")}
    bonus_c = {x["component"]: x["amount"] for x in books.lines(c, "2026-11", "bonus")}
    assert bonus_a == {"top 2": "2000.00", "team": "10000.00"}  # 60,000: tied first with b and c
    assert bonus_b == {"top 2": "2000.00", "team": "10000.00"}
    assert bonus_c == {"top 2": "2000.00"}  # team 华东二组 has no target
    assert {x["component"] for x in books.lines(manager, "2026-11", "bonus")} == {"team"}


def test_close_freezes_and_later_facts_become_adjustments_in_the_next_open_month(books):
    rep = books.rep("关账", "senior")
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),)), clawback_days=365))
    deal = books.win(rep, "1000.00", "2026-10-05")
    books.post(f"/deals/{deal}/payments", {"amount": "1000.00", "received_on": "2026-10-06"})
    closed = books.post("/commissions/periods/2026-10/close", {})
    assert closed["statements"] >= 1
    frozen = books.statement(rep, "2026-10")
    assert (frozen["status"], frozen["total"]) == ("closed", "100.00") and len(frozen["digest"]) == 64
    assert books.client.post("/commissions/periods/2026-10/close", json={}).status_code == 409

    late = books.win(rep, "500.00", "2026-10-28")  # back-dated into the closed month
    assert books.statement(rep, "2026-10") == frozen  # never edited
    [adjustment] = books.lines(rep, "2026-11", "adjustment")
    assert (adjustment["amount"], adjustment["deal_id"]) == ("50.00", late)
    explained = books.client.get(f"/commissions/lines/{adjustment['id']}/explain").json()
    assert explained["corrects"]["period"] == "2026-10"
    books.post(f"/deals/{deal}/refunds", {"amount": "200.00", "refunded_on": "2026-11-12", "reason": "退款"})
    [clawback] = books.lines(rep, "2026-11", "clawback")
    assert clawback["amount"] == "-20.00"
    assert books.client.get(f"/commissions/lines/{clawback['id']}/explain").json()["reverses"] == [
        next(x["id"] for x in frozen["lines"] if x["deal_id"] == deal)
    ]

    check = books.client.get(f"/commissions/statements/{rep}/2026-10/verify").json()
    assert check["verified"] and check["frozen_digest"] == check["recomputed_digest"]
    assert [d["recomputed"] for d in check["changed_since_close"]] == ["50.00"]
    books.post("/commissions/periods/2026-11/close", {})
    assert books.lines(rep, "2026-12", "adjustment") == []  # corrected once, not again


def test_adjustments_deductions_and_disputes(books):
    rep = books.rep("争议", "senior")
    manager = books.rep("审批", "manager")
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),))))
    deal = books.win(rep, "1000.00", "2026-11-02")
    [line] = books.lines(rep, "2026-11")
    books.post(
        "/commissions/periods/2026-11/adjustments",
        {"rep_id": rep, "kind": "deduction", "amount": "30.00", "reason": "违规报销（惩罚）", "approver_id": manager},
    )
    books.post(
        "/commissions/periods/2026-11/adjustments",
        {"rep_id": rep, "kind": "adjustment", "amount": "5.00", "reason": "补发", "approver_id": rep},
        status=(409,),
    )
    opened = books.post(
        "/commissions/periods/2026-11/disputes", {"rep_id": rep, "line_id": line["id"], "reason": "应按新合同金额"}
    )
    books.post(
        f"/commissions/periods/2026-11/disputes/{opened['dispute_id']}/resolve",
        {"outcome": "accepted", "reason": "合同已更正", "resolver_id": manager, "amount": "12.50"},
    )
    statement = books.statement(rep, "2026-11")
    assert sorted((x["kind"], x["amount"]) for x in statement["lines"]) == [
        ("adjustment", "12.50"),
        ("deduction", "-30.00"),
        ("earned", "100.00"),
    ]
    assert statement["total"] == "82.50"
    books.post("/commissions/periods/2026-11/close", {})
    books.post(
        "/commissions/periods/2026-11/adjustments",
        {"rep_id": rep, "kind": "adjustment", "amount": "1.00", "reason": "x", "approver_id": manager},
        status=(409,),
    )
    assert deal


def test_simulate_writes_nothing_and_csv_has_a_bom(books):
    rep = books.rep("模拟 王", "senior")
    books.on_plan(rep, plan(tiered(tiers=((None, "0.02"),))))
    books.win(rep, "100000.00", "2026-11-02")
    before = books.client.get("/events", params={"after": 0, "limit": 1000}).json()["items"][-1]["position"]
    what_if = books.client.post(
        "/commissions/simulate", json={"plan": plan(tiered()), "period": "2026-11", "rep_ids": [rep]}
    ).json()
    assert what_if["statements"][0]["total"] == "4000.00" and what_if["statements"][0]["status"] == "simulated"
    assert books.client.get("/events", params={"after": before}).json()["items"] == []
    assert books.statement(rep, "2026-11")["total"] == "2000.00"
    csv = books.client.get(f"/commissions/statements/{rep}/2026-11.csv")
    assert csv.content.startswith(b"\xef\xbb\xbf") and "模拟 王" in csv.content.decode("utf-8-sig")
    assert csv.headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize(
    "body",
    [
        plan(tiered(tiers=(("100", "0.1"), ("50", "0.2"), (None, "0.3")))),
        plan(tiered(tiers=(("100", "0.1"),))),
        plan(tiered(tier_mode="sideways")),
        plan(tiered(tiers=((None, 0.05),))),
        {**plan(tiered()), "period": "week"},
        {**plan(tiered()), "components": []},
    ],
)
def test_bad_plans_are_422(books, body):
    assert books.client.post("/plans", json=body).status_code == 422


def test_a_rebuild_reproduces_every_statement_digest(books, client):
    reps = [books.rep(f"重建{i}", "senior") for i in range(3)]
    for rep in reps:
        books.on_plan(rep, plan(tiered(), clawback_days=365))
    for i, amount in enumerate(["120000.00", "45000.50", "99999.99", "160000.00", "30000.00"]):
        deal = books.win(reps[i % 3], amount, f"2026-11-{i + 2:02d}")
        books.post(f"/deals/{deal}/payments", {"amount": "10000.00", "received_on": f"2026-11-{i + 10:02d}"})
    books.post("/commissions/periods/2026-11/close", {})
    before = {rep: books.client.get(f"/commissions/statements/{rep}/2026-12").json()["digest"] for rep in reps}
    frozen = {rep: books.statement(rep, "2026-11")["digest"] for rep in reps}
    from projections.engine.catalog import by_name
    from projections.engine.runner import rebuild

    rt = client.app.state.runtime
    rebuild(rt.db, rt.source, by_name("commissions"))
    rebuild(rt.db, rt.source, by_name("org"))
    for rep in reps:
        assert books.client.get(f"/commissions/statements/{rep}/2026-12").json()["digest"] == before[rep]
        assert (
            books.client.get(f"/commissions/statements/{rep}/2026-11/verify").json()["recomputed_digest"] == frozen[rep]
        )
