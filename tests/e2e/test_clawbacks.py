"""Clawbacks, complete: a refund reverses at the rates originally paid, in proportion to the
amount refunded, every line the deal produced (earned slices, a retroactive tier's top-ups, the
managers' overrides); after a close the reversal lands as an adjustment in the next open month;
beyond clawback_days nothing is clawed back and the statement says why. Also pinned: a plan
version changing mid-month. On each backend."""

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


def explain(books, line):
    answer = books.client.get(f"/commissions/lines/{line['id']}/explain")
    assert answer.status_code == 200, answer.text
    return answer.json()


def refund(books, deal, amount, day):
    books.post(f"/deals/{deal}/refunds", {"amount": amount, "refunded_on": day, "reason": "退款"})


def test_a_partial_refund_reverses_each_marginal_slice_in_proportion(books):
    rep = books.rep("分段", "senior")
    books.on_plan(rep, plan(tiered(tiers=(("100000", "0.04"), (None, "0.08")))))
    books.win(rep, "80000.00", "2026-11-02")
    deal = books.win(rep, "60000.00", "2026-11-10")  # 20,000 at 4% and 40,000 at 8%: 4,000
    [earned] = [x for x in books.lines(rep, "2026-11", "earned") if x["deal_id"] == deal]
    assert earned["amount"] == "4000.00"
    refund(books, deal, "30000.00", "2026-12-03")  # half of the deal: half of each slice, 400 + 1,600
    [clawback] = books.lines(rep, "2026-12", "clawback")
    assert (clawback["deal_id"], clawback["basis_amount"], clawback["amount"]) == (deal, "30000.00", "-2000.00")
    explained = explain(books, clawback)
    assert explained["reverses"] == [earned["id"]]
    assert Decimal(explained["rate_originally_paid"]) * 60000 == Decimal("4000")


def test_a_refund_claws_back_the_retroactive_top_up(books):
    rep = books.rep("追溯", "senior")
    books.on_plan(rep, plan(tiered("retroactive", tiers=(("100000", "0.05"), (None, "0.08")))))
    first = books.win(rep, "60000.00", "2026-03-02")
    books.win(rep, "60000.00", "2026-03-20")  # the month reaches 8%: the first deal is topped up by 1,800
    march = books.statement(rep, "2026-03")
    assert march["total"] == "9600.00"
    [top_up] = [x for x in march["lines"] if x["kind"] == "adjustment"]
    assert top_up["amount"] == "1800.00"
    refund(books, first, "60000.00", "2026-05-04")
    [clawback] = books.lines(rep, "2026-05", "clawback")
    assert clawback["amount"] == "-4800.00"  # at the 8% finally paid, not the 5% first paid
    explained = explain(books, clawback)
    [earned] = [x for x in march["lines"] if x["kind"] == "earned" and x["deal_id"] == first]
    assert explained["reverses"] == [earned["id"]]
    assert explained["reverses_top_ups"] == [top_up["id"]]
    assert explained["rate_originally_paid"] == "0.08"


def test_a_refund_claws_back_the_managers_overrides(books):
    director = books.rep("总监", "director")
    manager = books.rep("经理", "manager", manager_id=director)
    rep = books.rep("销售", "senior", manager_id=manager)
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),))))
    override = {"name": "override", "type": "override", "basis": "revenue", "rate": "0.03", "threshold": "0"}
    books.on_plan(manager, plan(override))
    books.on_plan(director, plan({**override, "rate": "0.01"}))
    deal = books.win(rep, "100000.00", "2026-11-02")
    [paid_manager] = books.lines(manager, "2026-11", "override")
    [paid_director] = books.lines(director, "2026-11", "override")
    assert (paid_manager["amount"], paid_director["amount"]) == ("3000.00", "1000.00")
    refund(books, deal, "40000.00", "2026-12-01")
    assert [x["amount"] for x in books.lines(rep, "2026-12", "clawback")] == ["-4000.00"]
    [back_manager] = books.lines(manager, "2026-12", "clawback")
    [back_director] = books.lines(director, "2026-12", "clawback")
    assert (back_manager["amount"], back_director["amount"]) == ("-1200.00", "-400.00")
    explained = explain(books, back_manager)
    assert explained["reverses"] == [paid_manager["id"]] and explained["credited_rep"] == rep
    assert explain(books, back_director)["reverses"] == [paid_director["id"]]


def test_a_refund_into_a_closed_month_is_an_adjustment_in_the_next_open_month(books):
    rep = books.rep("关后退款", "senior")
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),))))
    deal = books.win(rep, "1000.00", "2026-10-05")
    books.post("/commissions/periods/2026-10/close", {})
    frozen = books.statement(rep, "2026-10")
    refund(books, deal, "200.00", "2026-10-20")  # dated in the closed month
    assert books.statement(rep, "2026-10") == frozen
    [adjustment] = books.lines(rep, "2026-11", "adjustment")
    assert (adjustment["amount"], adjustment["deal_id"]) == ("-20.00", deal)
    assert explain(books, adjustment)["corrects"]["period"] == "2026-10"


def test_beyond_clawback_days_nothing_is_clawed_back_and_the_statement_says_why(books):
    manager = books.rep("窗口经理", "manager")
    rep = books.rep("窗口", "senior", manager_id=manager)
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),)), clawback_days=30))
    books.on_plan(
        manager,
        plan(
            {"name": "override", "type": "override", "basis": "revenue", "rate": "0.03", "threshold": "0"},
            clawback_days=30,
        ),
    )
    deal = books.win(rep, "1000.00", "2026-09-01")
    refund(books, deal, "500.00", "2026-11-02")  # 62 days after signing
    statement = books.statement(rep, "2026-11")
    assert [x for x in statement["lines"] if x["kind"] == "clawback"] == []
    [note] = statement["clawback_notes"]
    assert (note["deal_id"], note["days_after_signing"], note["clawback_days"]) == (deal, 62, 30)
    assert "beyond the plan's clawback_days" in note["note"]
    assert books.lines(manager, "2026-11", "clawback") == []
    assert books.statement(manager, "2026-11")["clawback_notes"][0]["deal_id"] == deal


def test_a_mid_month_plan_version_keeps_accumulating_and_pays_each_slice_under_its_version(books):
    rep = books.rep("换版", "senior")
    plan_id = books.on_plan(rep, plan(tiered(tiers=(("100000", "0.04"), (None, "0.06")))))
    books.post(
        f"/plans/{plan_id}/versions",
        plan(tiered(tiers=(("100000", "0.05"), (None, "0.10"))), effective_from="2026-11-15"),
    )
    books.win(rep, "80000.00", "2026-11-02")  # version 1: 80,000 at 4%
    books.win(rep, "40000.00", "2026-11-20")  # version 2, from 80,000: 20,000 at 5% and 20,000 at 10%
    lines = sorted(books.lines(rep, "2026-11", "earned"), key=lambda x: x["plan_version"])
    assert [(x["plan_version"], x["amount"]) for x in lines] == [(1, "3200.00"), (2, "3000.00")]
    later = explain(books, lines[1])
    assert (later["accumulated_before"], later["accumulated_after"]) == ("80000.00", "120000.00")
