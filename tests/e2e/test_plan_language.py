"""The plan body, second round, over HTTP on each backend: a strict schema (unknown keys refused
by path, every problem at once, documented in OpenAPI), quarter and year accumulation, deal-rate
tiers, target bonuses, draws and guarantees, quota relief and overlay credit."""

from datetime import date
from decimal import Decimal

import pytest

from application import clock
from tests.e2e.test_commissions import Books, plan, tiered


@pytest.fixture
def books(client):
    clock.set_today(date(2027, 1, 15))
    yield Books(client)
    clock.set_today(None)


def kinds(books, rep, period, kind):
    return [x for x in books.lines(rep, period) if x["kind"] == kind]


def test_unknown_keys_are_refused_by_path_and_every_problem_is_listed(books):
    body = plan({**tiered(), "tier_mod": "marginal"})
    body["components"].append({"name": "b", "type": "rank_bonus", "top": 3, "amount": "10", "colour": "red"})
    body["bonus_pool"] = "1"
    answer = books.client.post("/plans", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    fields = {e["field"] for e in error["details"]["errors"]}
    assert fields == {"components[0].tier_mod", "components[1].colour", "bonus_pool"}
    assert error["details"]["field"] in fields
    wrong = plan(tiered(tier_mode="stepped"))
    answer = books.client.post("/plans", json=wrong)
    assert answer.status_code == 422 and answer.json()["error"]["details"]["field"] == "components[0].tier_mode"
    both = plan(
        tiered(tiers=(("100", "0.1"), ("50", "0.2"), (None, "0.3"))), {"name": "o", "type": "override", "rate": "2"}
    )
    problems = books.client.post("/plans", json=both).json()["error"]["details"]["errors"]
    assert {p["field"] for p in problems} == {"components[0].tiers[1].up_to", "components[1].rate"}
    assert books.client.get("/plans").json()["items"] == []  # nothing was written


def test_the_plan_body_is_documented_with_every_component(client):
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/plans"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PlanBody"}
    models = schema["components"]["schemas"]
    assert {"TieredRate", "Override", "RankBonus", "TeamTargetBonus", "TargetBonus", "Draw"} <= set(models)
    assert models["PlanBody"]["additionalProperties"] is False and models["PlanBody"]["examples"]
    assert "deal_rate" in models["TieredRate"]["properties"]["tier_mode"]["enum"]


def test_worked_example_annual_tiers_year_to_date(books):
    rep = books.rep("年度", "senior")
    books.on_plan(rep, plan(tiered(tiers=(("1000000", "0.05"), (None, "0.08")), measure="year_to_date")))
    books.win(rep, "600000.00", "2026-01-10")
    books.win(rep, "300000.00", "2026-02-10")
    books.win(rep, "300000.00", "2026-03-10")
    march = books.statement(rep, "2026-03")
    assert march["total"] == "21000.00"  # 100,000 x 5% + 200,000 x 8%
    [line] = march["lines"]
    explained = books.get(f"/commissions/lines/{line['id']}/explain")
    assert explained["span"] == {"period": "2026", "accumulated_in_earlier_months": "900000.00"}
    assert [(s["slice"], s["rate"]) for s in explained["tier_walk"]] == [("100000.00", "0.05"), ("200000.00", "0.08")]
    assert books.statement(rep, "2026-02")["total"] == "15000.00"  # still all at 5%


def test_quarter_to_date_attainment_reads_the_quarter_target(books):
    rep = books.rep("季度", "senior")
    component = tiered(tiers=(("1", "0.02"), (None, "0.06")), measure="quarter_to_date", thresholds="attainment")
    books.on_plan(rep, plan(component))
    books.post("/targets", {"scope": f"rep:{rep}", "period": "2026-Q2", "metric": "revenue", "value": "100000.00"})
    books.win(rep, "80000.00", "2026-04-05")
    books.win(rep, "40000.00", "2026-05-06")  # 20,000 to reach the quarter target at 2%, 20,000 above at 6%
    assert books.statement(rep, "2026-05")["total"] == "1600.00"
    books.win(rep, "10000.00", "2026-04-20")  # a late April deal moves May's starting point
    assert books.statement(rep, "2026-05")["total"] == "2000.00"  # 10,000 x 2% + 30,000 x 6%


def test_deal_rate_pays_each_deal_wholly_at_the_band_it_reaches(books):
    rep = books.rep("整单", "senior")
    books.on_plan(rep, plan(tiered("deal_rate", tiers=(("100000", "0.04"), (None, "0.07")))))
    books.win(rep, "80000.00", "2026-06-02")
    crossing = books.win(rep, "50000.00", "2026-06-09")  # reaches 130,000: the whole deal at 7%
    amounts = {x["deal_id"]: x["amount"] for x in books.lines(rep, "2026-06")}
    assert amounts[crossing] == "3500.00" and sorted(amounts.values()) == ["3200.00", "3500.00"]


def test_a_quarter_target_bonus_is_paid_on_its_last_month_and_a_refund_after_close_settles_it(books):
    rep = books.rep("季奖", "senior")
    bonus = {"name": "q bonus", "type": "target_bonus", "metric": "revenue", "over": "quarter", "amount": "20000"}
    books.on_plan(rep, plan(tiered(tiers=((None, "0.01"),)), bonus, clawback_days=365))
    books.post("/targets", {"scope": f"rep:{rep}", "period": "2026-Q3", "metric": "revenue", "value": "300000.00"})
    books.win(rep, "200000.00", "2026-07-10")
    deal = books.win(rep, "120000.00", "2026-09-10")
    assert kinds(books, rep, "2026-07", "bonus") == []
    [paid] = kinds(books, rep, "2026-09", "bonus")
    assert paid["amount"] == "20000.00"
    explained = books.get(f"/commissions/lines/{paid['id']}/explain")
    assert explained["target"]["period"] == "2026-Q3" and explained["span"]["accumulated"] == "320000.00"
    for label in ("2026-07", "2026-08", "2026-09"):
        books.post(f"/commissions/periods/{label}/close", {})
    books.post(f"/deals/{deal}/refunds", {"amount": "60000.00", "refunded_on": "2026-09-28", "reason": "退货"})
    # the quarter falls to 260,000 of 300,000: September is closed, so its bonus is taken back in October
    october = books.statement(rep, "2026-10")
    taken = [x for x in october["lines"] if x["component"] == "q bonus"]
    assert [x["amount"] for x in taken] == ["-20000.00"]


def test_worked_example_recoverable_draw_and_guarantee(books):
    for name, recoverable, expected in (
        ("预支", True, [("draw", "1200.00"), ("draw_recovery", "-1000.00"), ("draw_recovery", "-200.00")]),
        ("保底", False, [("draw", "1200.00"), None, None]),
    ):
        rep = books.rep(name, "senior")
        body = plan(tiered(tiers=((None, "0.10"),)))
        body["draw"] = {"amount": "3000", "recoverable": recoverable}
        books.on_plan(rep, body)
        books.win(rep, "18000.00", "2026-01-10")  # earns 1,800
        books.win(rep, "40000.00", "2026-02-10")  # 4,000
        books.win(rep, "50000.00", "2026-03-10")  # 5,000
        balances = []
        for label, want in zip(("2026-01", "2026-02", "2026-03"), expected, strict=True):
            statement = books.statement(rep, label)
            got = [(x["kind"], x["amount"]) for x in statement["lines"] if x["kind"].startswith("draw")]
            assert got == ([want] if want else []), (name, label, got)
            balances.append(statement.get("draw_balance"))
        assert balances == (["1200.00", "200.00", "0.00"] if recoverable else ["0.00", "0.00", "0.00"])
        assert books.statement(rep, "2026-02")["total"] == ("3000.00" if recoverable else "4000.00")


def test_quota_relief_counts_toward_attainment_never_basis(books):
    rep = books.rep("减额", "senior")
    component = tiered(tiers=(("1", "0.02"), (None, "0.06")), thresholds="attainment")
    books.on_plan(rep, plan(component))
    books.post("/targets", {"scope": f"rep:{rep}", "period": "2026-08", "metric": "revenue", "value": "100000.00"})
    books.win(rep, "50000.00", "2026-08-05")
    assert books.statement(rep, "2026-08")["total"] == "1000.00"
    relief = {"period": "2026-08", "metric": "revenue", "amount": "70000.00", "reason": "华南区域移交"}
    books.post(f"/reps/{rep}/quota-relief", relief)
    # relief places the basis at 70,000: 30,000 at 2% and 20,000 above the target at 6%; relief itself pays nothing
    statement = books.statement(rep, "2026-08")
    assert statement["total"] == "1800.00"
    [line] = statement["lines"]
    assert books.get(f"/commissions/lines/{line['id']}/explain")["relief"]["amount"] == "70000.00"
    [revenue] = [
        m for m in books.get("/kpis", scope=f"rep:{rep}", period="2026-08")["metrics"] if m["metric"] == "revenue"
    ]
    assert (revenue["actual"], revenue["relief"], revenue["attainment"]) == ("50000.00", "70000.00", "1.2000")
    bad = books.client.post(f"/reps/{rep}/quota-relief", json={**relief, "metric": "visits"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "metric"


def test_an_overlay_component_pays_the_overlay_party_never_the_splits(books):
    owner, presales = books.rep("主签", "senior"), books.rep("售前", "senior")
    books.on_plan(owner, plan(tiered(tiers=((None, "0.05"),))))
    overlay = {**tiered(tiers=((None, "0.02"),)), "name": "presales", "credit": "overlay"}
    books.on_plan(presales, plan(overlay))
    customer = books.post("/customers", {"name": "叠加客户", "region": "华东", "industry": "retail"})["id"]
    deal = books.post(
        "/deals", {"customer_id": customer, "owner_id": owner, "amount": "100000.00", "product_line": "ERP"}
    )["id"]
    books.post(
        f"/deals/{deal}/splits",
        {
            "splits": [{"rep_id": owner, "share": "1"}],
            "overlays": [{"party": presales, "kind": "presales", "share": "0.5"}],
        },
    )
    books.post(f"/deals/{deal}/win", {"amount": "100000.00", "gross_margin": "0.00", "signed_on": "2026-10-12"})
    assert books.statement(owner, "2026-10")["total"] == "5000.00"
    [line] = books.lines(presales, "2026-10")
    assert (line["component"], line["basis_amount"], line["amount"]) == ("presales", "50000.00", "1000.00")
    books.post(f"/deals/{deal}/refunds", {"amount": "100000.00", "refunded_on": "2026-10-20", "reason": "退货"})
    assert books.statement(presales, "2026-10")["total"] == "0.00"  # the overlay's line is clawed back too
    assert Decimal(books.statement(owner, "2026-10")["total"]) == 0


def test_an_assessment_bonus_pays_by_the_finalized_grade_on_the_periods_last_month(books):
    scheme = books.post(
        "/assessments/schemes",
        {
            "name": "月度考核",
            "period": "month",
            "effective_from": "2026-01-01",
            "indicators": [
                {"key": "sales", "source": "kpi:revenue_attainment", "weight": "1", "zero_at": "0", "full_at": "1"}
            ],
            "grades": [{"grade": "S", "min_score": "90"}, {"grade": "C", "min_score": "0"}],
        },
    )["id"]
    reward = {"name": "考核奖", "type": "assessment_bonus", "scheme_id": scheme, "amounts": {"S": "5000", "C": "-1000"}}
    star, quiet, relieved = books.rep("优秀", "senior"), books.rep("待改进", "senior"), books.rep("移交", "senior")
    for rep in (star, quiet, relieved):
        books.on_plan(rep, plan(tiered(tiers=((None, "0.01"),)), reward))
        books.post("/targets", {"scope": f"rep:{rep}", "period": "2026-05", "metric": "revenue", "value": "100000.00"})
    books.win(star, "100000.00", "2026-05-12")
    assert kinds(books, star, "2026-05", "bonus") == []  # nothing until the month is assessed
    relief = {"period": "2026-05", "metric": "revenue", "amount": "100000.00", "reason": "区域移交"}
    books.post(f"/reps/{relieved}/quota-relief", relief)  # counts toward the scorecard's attainment too
    [sales] = books.get(f"/reps/{relieved}/assessments/2026-05")["indicators"]
    assert (sales["value"], sales["points"]) == ("1.0000", "100.00")
    books.post("/assessments/2026-05/finalize", {})
    [paid] = kinds(books, star, "2026-05", "bonus")
    [taken] = kinds(books, quiet, "2026-05", "bonus")
    assert (paid["amount"], taken["amount"]) == ("5000.00", "-1000.00")
    assert [x["amount"] for x in kinds(books, relieved, "2026-05", "bonus")] == ["5000.00"]
    explained = books.get(f"/commissions/lines/{paid['id']}/explain")
    assert (explained["assessment"]["grade"], explained["assessment"]["period"]) == ("S", "2026-05")
    bad = plan({**reward, "amounts": {}})
    assert books.client.post("/plans", json=bad).json()["error"]["details"]["field"] == "components[0].amounts"
