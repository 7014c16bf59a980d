"""Proposals, the negotiation picture and delivery milestones, on the Deal aggregate alone; the
revisit policy and the overdue-revisit record on their own."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.customer import Customer
from domain.deal import Deal
from domain.errors import Conflict, InvalidInput, NotFound
from domain.revisit_policy import validate_revisit_days


def new_deal() -> Deal:
    return Deal.open(
        uuid4(),
        customer_id="c",
        owner_id="r",
        amount="100000.00",
        product_line="ERP",
        opened_on=date(2026, 3, 1),
        opened_on_stated=True,
    )


def test_a_proposal_sent_after_a_revised_one_is_its_next_version():
    deal = new_deal()
    deal.send_proposal(proposal_id="p1", title="v1", amount="120000", sent_on=date(2026, 3, 3))
    deal.record_proposal_outcome(proposal_id="p1", outcome="revised", on=date(2026, 3, 4), reason="价格")
    deal.send_proposal(proposal_id="p2", title="v2", amount="110000", sent_on=date(2026, 3, 5))
    deal.record_proposal_outcome(proposal_id="p2", outcome="rejected", on=date(2026, 3, 6))
    deal.send_proposal(proposal_id="p3", title="v3", amount="100000", sent_on=date(2026, 3, 7))
    p1, p2, p3 = deal.proposals
    assert [p["version"] for p in deal.proposals] == [1, 2, 3]
    assert (p1["superseded_by"], p2["revises"], p3["revises"]) == ("p2", "p1", None)  # a rejection is no revision
    assert [h["status"] for h in p1["history"]] == ["sent", "revised"]
    assert p3["amount"] == Decimal("100000.00")
    with pytest.raises(Conflict) as decided:
        deal.record_proposal_outcome(proposal_id="p2", outcome="accepted", on=date(2026, 3, 8))
    assert decided.value.code == "proposal_decided"
    with pytest.raises(NotFound):
        deal.record_proposal_outcome(proposal_id="p9", outcome="accepted", on=date(2026, 3, 8))
    with pytest.raises(InvalidInput) as early:
        deal.send_proposal(proposal_id="p4", title="v4", amount="1", sent_on=date(2026, 2, 27))
    assert early.value.details["field"] == "sent_on"


def test_negotiation_changes_only_what_is_given_and_keeps_every_change_in_order():
    deal = new_deal()
    deal.update_negotiation(on=date(2026, 3, 2), budget="90000", competitors=["A", "B", "A"])
    deal.update_negotiation(on=date(2026, 3, 4), decision_makers=["s1"], stakeholders={"s1", "s2"})
    deal.update_negotiation(on=date(2026, 3, 4), competitors=["B"])
    assert deal.negotiation == {
        "budget": Decimal("90000.00"),
        "decision_process": None,
        "decision_makers": ["s1"],
        "competitors": ["B"],
        "as_of": date(2026, 3, 4),
    }
    assert [(h["on"], list(h["changes"])) for h in deal.negotiation_history] == [
        (date(2026, 3, 2), ["budget", "competitors"]),
        (date(2026, 3, 4), ["decision_makers"]),
        (date(2026, 3, 4), ["competitors"]),
    ]
    assert deal.negotiation_history[2]["changes"]["competitors"] == {"from": ["A", "B"], "to": ["B"]}
    with pytest.raises(InvalidInput) as earlier:
        deal.update_negotiation(on=date(2026, 3, 3), budget="1")
    assert earlier.value.details["field"] == "on"
    with pytest.raises(InvalidInput) as stranger:
        deal.update_negotiation(on=date(2026, 3, 5), decision_makers=["s9"], stakeholders={"s1"})
    assert stranger.value.details["field"] == "decision_makers"
    with pytest.raises(Conflict):
        deal.update_negotiation(on=date(2026, 3, 5), competitors=["B"])


def test_delivery_needs_a_won_deal_and_dates_from_the_signing_on():
    deal = new_deal()
    with pytest.raises(Conflict) as not_won:
        deal.plan_delivery([{"name": "上线", "planned_on": date(2026, 4, 1)}])
    assert not_won.value.code == "deal_not_won"
    deal.win(amount="100000", gross_margin="30000", signed_on=date(2026, 3, 10))
    with pytest.raises(InvalidInput) as twice:
        deal.plan_delivery(
            [{"name": "a", "planned_on": date(2026, 4, 1)}, {"name": "a", "planned_on": date(2026, 4, 2)}]
        )
    assert twice.value.details["field"] == "milestones[1].name"
    deal.plan_delivery(
        [{"name": "启动", "planned_on": date(2026, 3, 15)}, {"name": "上线", "planned_on": date(2026, 4, 1)}]
    )
    deal.plan_delivery([{"name": "上线", "planned_on": date(2026, 4, 10)}])  # planned again
    replanned = deal.collect_events()[-1]
    assert replanned.milestones == [
        {"name": "上线", "planned_on": date(2026, 4, 10), "previously_planned_on": date(2026, 4, 1)}
    ]
    deal.complete_milestone(name="启动", on=date(2026, 3, 16))
    assert [(m["name"], m["planned_on"], m["done_on"]) for m in deal.delivery] == [
        ("启动", date(2026, 3, 15), date(2026, 3, 16)),
        ("上线", date(2026, 4, 10), None),
    ]
    with pytest.raises(Conflict) as done:
        deal.plan_delivery([{"name": "启动", "planned_on": date(2026, 3, 20)}])
    assert done.value.code == "milestone_done"


def test_revisit_policy_days_and_the_overdue_record_is_idempotent():
    assert validate_revisit_days({"A": 20}) == {"A": 20, "B": 60, "C": 90}
    for bad in ({"A": 0}, {"D": 5}, {"B": True}, {"C": "30"}):
        with pytest.raises(InvalidInput):
            validate_revisit_days(bad)
    customer = Customer.register(uuid4(), name="客户", region="华东", industry="retail", registered_on=date(2026, 1, 1))
    customer.log_visit(rep_id="r", kind="visit", occurred_at=datetime(2026, 1, 5, tzinfo=UTC))
    args = {"due_on": date(2026, 2, 4), "grade": "A", "days": 30, "last_visit_on": date(2026, 1, 5)}
    assert customer.record_revisit_overdue(as_of=date(2026, 2, 5), **args)
    assert not customer.record_revisit_overdue(as_of=date(2026, 2, 6), **args)
    with pytest.raises(InvalidInput):
        customer.record_revisit_overdue(as_of=date(2026, 2, 4), **{**args, "due_on": date(2026, 2, 5)})
    assert [o["due_on"] for o in customer.overdue_revisits] == [date(2026, 2, 4)]
