"""Deal rules, on the aggregate alone (no storage)."""

import json
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.deal import Deal, dump_splits, load_splits
from domain.errors import Conflict, InvalidInput
from domain.receivables import billed, collection_rate, kept, receivable


def new_deal(amount="100000.00", *, stated=False) -> Deal:
    return Deal.open(
        uuid4(),
        customer_id="c",
        owner_id="r",
        amount=amount,
        product_line="ERP",
        opened_on=date(2026, 3, 1),
        opened_on_stated=stated,
    )


def event_types(deal: Deal) -> list[str]:
    return [type(e).__name__ for e in deal.collect_events()]


def test_stage_changes_record_from_and_to_and_may_move_back():
    deal = new_deal()
    deal.change_stage("proposal", changed_on=date(2026, 3, 2))
    deal.change_stage("needs_analysis", changed_on=date(2026, 3, 2))
    events = deal.collect_events()[1:]
    assert [(e.from_stage, e.to_stage) for e in events] == [
        ("initial_contact", "proposal"),
        ("proposal", "needs_analysis"),
    ]


def test_refused_commands_trigger_no_event():
    deal = new_deal()
    deal.collect_events()
    with pytest.raises(InvalidInput):
        deal.change_stage("won", changed_on=date(2026, 3, 2))
    with pytest.raises(Conflict):
        deal.change_stage("initial_contact", changed_on=date(2026, 3, 2))
    with pytest.raises(InvalidInput):
        deal.win(amount="100", gross_margin="150", signed_on=date(2026, 3, 2))
    with pytest.raises(Conflict):
        deal.receive_payment(amount="10", received_on=date(2026, 3, 2))
    assert deal.collect_events() == []
    assert deal.version == 1


def test_win_then_payments_cannot_exceed_signed_amount():
    deal = new_deal()
    deal.win(amount="1000.00", gross_margin="300.00", signed_on=date(2026, 3, 9), contract_no="HT-1")
    deal.receive_payment(amount="600.00", received_on=date(2026, 4, 1))
    with pytest.raises(Conflict) as refused:
        deal.receive_payment(amount="400.01", received_on=date(2026, 4, 2))
    assert refused.value.code == "overpayment"
    deal.receive_payment(amount="400.00", received_on=date(2026, 4, 2))
    assert deal.collected == Decimal("1000.00") and deal.receivable == Decimal("0.00")
    with pytest.raises(Conflict):
        deal.change_stage("proposal", changed_on=date(2026, 4, 3))


def test_refunds_pay_back_cash_and_cancellations_reduce_what_is_owed():
    deal = new_deal()
    deal.win(amount="1000.00", gross_margin="300.00", signed_on=date(2026, 3, 9))
    assert deal.payment_due_on == date(2026, 4, 8)  # default terms: 30 days
    with pytest.raises(Conflict):
        deal.refund(amount="10.00", refunded_on=date(2026, 5, 1), reason="nothing collected yet", kind="refund")
    deal.receive_payment(amount="600.00", received_on=date(2026, 4, 1))
    deal.refund(amount="250.00", refunded_on=date(2026, 5, 1), reason="部分退货")  # collected: a refund
    assert deal.refunds[-1]["kind"] == "refund"
    assert deal.receivable == Decimal("650.00")  # 1000 owed, 350 kept
    deal.refund(amount="200.00", refunded_on=date(2026, 5, 2), reason="取消部分", kind="cancellation")
    assert deal.receivable == Decimal("450.00")
    with pytest.raises(Conflict):
        deal.refund(amount="450.01", refunded_on=date(2026, 5, 3), reason="x", kind="cancellation")
    with pytest.raises(Conflict):
        deal.refund(amount="350.01", refunded_on=date(2026, 5, 3), reason="x", kind="refund")
    with pytest.raises(Conflict):
        deal.receive_payment(amount="450.01", received_on=date(2026, 5, 4))
    deal.receive_payment(amount="450.00", received_on=date(2026, 5, 4))
    assert deal.receivable == Decimal("0.00")


def test_revisions_line_items_and_overlays():
    deal = new_deal()
    deal.revise(amount="120000.00", expected_close=date(2026, 6, 30), reason="扩大范围")
    with pytest.raises(Conflict):
        deal.revise(amount="120000.00", reason="same")
    deal.set_line_items(
        [
            {"product_line": "ERP", "amount": "100000.00", "gross_margin": "30000.00"},
            {"product_line": "BI", "amount": "20000.00", "gross_margin": "8000.00"},
        ]
    )
    with pytest.raises(InvalidInput):
        deal.set_line_items([{"product_line": "ERP", "amount": "10.00", "gross_margin": "11.00"}])
    deal.set_splits(
        [{"rep_id": "a", "share": "0.7"}, {"rep_id": "b", "share": "0.3"}],
        overlays=[{"party": "渠道伙伴甲", "kind": "channel_partner", "share": "0.1"}],
    )
    assert deal.overlays[0]["share"] == Decimal("0.1") and sum(s["share"] for s in deal.splits) == 1
    with pytest.raises(InvalidInput):
        deal.set_splits([{"rep_id": "a", "share": "1"}], overlays=[{"party": "x", "kind": "reseller", "share": "0.1"}])
    assert [r["reason"] for r in deal.revisions] == ["扩大范围"]


def test_stage_history_records_dates_and_steps_back():
    deal = new_deal()
    deal.change_stage("proposal", changed_on=date(2026, 3, 5))
    deal.change_stage("needs_analysis", changed_on=date(2026, 3, 8))
    with pytest.raises(InvalidInput):
        deal.change_stage("negotiation", changed_on=date(2026, 3, 7))
    assert [(h["from"], h["to"]) for h in deal.stage_history] == [
        (None, "initial_contact"),
        ("initial_contact", "proposal"),
        ("proposal", "needs_analysis"),
    ]
    deal.lose(reason="客户换了供应商", allowed=["price"], lost_on=date(2026, 3, 20))
    assert (deal.lost_reason, deal.lost_reason_code) == ("客户换了供应商", "other")
    assert deal.lost_on == date(2026, 3, 20) and deal.as_dict()["lost_on"] == date(2026, 3, 20)


def test_a_stage_change_needs_its_date():
    with pytest.raises(TypeError):
        new_deal().change_stage("proposal")  # the domain has no clock: the caller says when


def test_an_outcome_before_a_stated_opening_date_is_refused():
    deal = new_deal(stated=True)
    deal.collect_events()
    with pytest.raises(InvalidInput) as early_win:
        deal.win(amount="100.00", gross_margin="10.00", signed_on=date(2026, 2, 28))
    assert early_win.value.details == {"field": "signed_on", "opened_on": "2026-03-01"}
    with pytest.raises(InvalidInput) as early_loss:
        deal.lose(reason="price", lost_on=date(2026, 2, 28))
    assert early_loss.value.details["field"] == "lost_on"
    assert deal.collect_events() == []
    deal.win(amount="100.00", gross_margin="10.00", signed_on=date(2026, 3, 1))  # the opening day itself is fine
    assert deal.signed_on == date(2026, 3, 1)


def test_an_unstated_opening_date_does_not_bound_a_back_dated_win():
    deal = new_deal()  # opened_on was the recording date standing in for an unknown one
    deal.win(amount="100.00", gross_margin="10.00", signed_on=date(2026, 2, 1))
    assert deal.status == "won"


def test_stored_splits_have_the_contract_shape_and_one_parser():
    stored = dump_splits([{"rep_id": "甲", "share": Decimal("0.7")}, {"rep_id": "b", "share": "0.3"}])
    assert json.loads(stored) == [{"rep_id": "甲", "share": "0.7"}, {"rep_id": "b", "share": "0.3"}]
    assert load_splits(stored) == [{"rep_id": "甲", "share": Decimal("0.7")}, {"rep_id": "b", "share": Decimal("0.3")}]
    with pytest.raises(InvalidInput):
        load_splits('[["a", "1"]]')  # the old list-of-pairs shape is not read any more


@pytest.mark.parametrize(
    ("signed", "cancelled", "collected", "refunded", "owed"),
    [
        (Decimal("1000.00"), Decimal("0.00"), Decimal("600.00"), Decimal("0.00"), Decimal("400.00")),
        (Decimal("1000.00"), Decimal("200.00"), Decimal("600.00"), Decimal("250.00"), Decimal("450.00")),
        (Decimal("1000.00"), Decimal("0.00"), Decimal("1000.00"), Decimal("0.00"), Decimal("0.00")),
        (100_000, 20_000, 90_000, 0, 0),  # integer cents work too; never below zero
    ],
)
def test_one_receivable_formula(signed, cancelled, collected, refunded, owed):
    assert receivable(signed, cancelled, collected, refunded) == owed


def test_collection_rate_is_cash_kept_over_billed():
    # signed 320000, refunded 20000 of 250000 collected: 230000 / 320000
    assert collection_rate(kept(25_000_000, 2_000_000), billed(32_000_000, 0)) == Decimal("0.7188")
    assert collection_rate(Decimal("0.00"), Decimal("0.00")) is None
    assert collection_rate(1, 3) == Decimal("0.3333")


@pytest.mark.parametrize(
    "splits",
    [
        [{"rep_id": "a", "share": "0.5"}, {"rep_id": "b", "share": "0.4"}],
        [{"rep_id": "a", "share": "0.5"}, {"rep_id": "a", "share": "0.5"}],
        [{"rep_id": "a", "share": 0.5}, {"rep_id": "b", "share": "0.5"}],
        [{"rep_id": "a", "share": "1.2"}, {"rep_id": "b", "share": "-0.2"}],
        [],
    ],
)
def test_splits_must_be_distinct_reps_totalling_exactly_one(splits):
    deal = new_deal()
    with pytest.raises(InvalidInput):
        deal.set_splits(splits)


def test_splits_in_thirds_need_exact_decimals():
    deal = new_deal()
    deal.set_splits(
        [{"rep_id": "a", "share": "0.34"}, {"rep_id": "b", "share": "0.33"}, {"rep_id": "c", "share": "0.33"}]
    )
    assert [s["share"] for s in deal.splits] == [Decimal("0.34"), Decimal("0.33"), Decimal("0.33")]
