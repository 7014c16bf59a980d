"""The write side on a real store: atomic commands, optimistic concurrency, metadata, history."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.deal import Deal
from domain.errors import NotFound, VersionConflict
from domain.rep import Rep
from tests.helpers import META, seed_deal


def test_two_writers_one_conflict_no_lost_event(runtime):
    ledger = runtime.ledger
    ids = seed_deal(ledger)
    first = ledger.store.load(Deal, ids["deal"])
    second = ledger.store.load(Deal, ids["deal"])
    first.change_stage("proposal", changed_on=date(2026, 2, 2))
    second.change_stage("negotiation", changed_on=date(2026, 2, 2))
    ledger.store.record(META, first)
    with pytest.raises(VersionConflict):
        ledger.store.record(META, second)
    deal = ledger.store.load(Deal, ids["deal"])
    assert (deal.version, deal.stage) == (2, "proposal")
    stored = list(ledger.store.repository.event_store.get(deal.id))
    assert [type(e).__name__ for e in stored] == ["Opened", "StageChanged"]


def test_stale_expected_version_is_refused_and_writes_nothing(runtime):
    ledger = runtime.ledger
    ids = seed_deal(ledger)
    head = runtime.source.head()
    ledger.deals.change_deal_stage(META, ids["deal"], "proposal", expected_version=1)
    with pytest.raises(VersionConflict):
        ledger.deals.change_deal_stage(META, ids["deal"], "negotiation", expected_version=1)
    assert runtime.source.head() == head + 1


def test_events_carry_metadata_business_dates_and_chinese_text(runtime):
    ledger = runtime.ledger
    ids = seed_deal(ledger, team="华南二组", region="华南")
    written = ledger.deals.win_deal(
        META,
        ids["deal"],
        amount="98000.50",
        gross_margin="30000.00",
        signed_on=date(2026, 2, 27),
        contract_no="合同-2026-001",
    )
    won, activated = runtime.source.read(written.position - 2, 10)  # one write: the win and the customer's activation
    event = won.event
    assert (won.type, activated.type) == ("DealWon", "CustomerLifecycleChanged")
    assert activated.position == written.position and activated.event.to_state == "active"
    assert event.meta == {"actor": "test", "correlation_id": "c-1", "causation_id": "r-1"}
    assert event.signed_on == date(2026, 2, 27)  # back-dated business date, distinct from recording time
    assert str(event.amount) == "98000.50" and event.contract_no == "合同-2026-001"
    rep = ledger.store.load(Rep, ids["rep"])
    assert (rep.name, rep.team, rep.region) == ("王伟", "华南二组", "华南")


def test_history_by_version_and_by_time(runtime):
    ledger = runtime.ledger
    ids = seed_deal(ledger)
    ledger.deals.change_deal_stage(META, ids["deal"], "proposal")
    between = datetime.now(UTC)
    ledger.deals.change_deal_stage(META, ids["deal"], "negotiation")
    assert ledger.store.load(Deal, ids["deal"], version=2).stage == "proposal"
    assert ledger.store.load_as_of(Deal, ids["deal"], between).stage == "proposal"
    assert ledger.store.load(Deal, ids["deal"]).stage == "negotiation"
    with pytest.raises(NotFound):
        ledger.store.load(Deal, ids["deal"], version=9)
    with pytest.raises(NotFound):
        ledger.store.load_as_of(Deal, ids["deal"], between - timedelta(days=1))


def test_references_must_exist_and_be_of_the_right_kind(runtime):
    ledger = runtime.ledger
    ids = seed_deal(ledger)
    with pytest.raises(NotFound):
        ledger.deals.open_deal(
            META,
            customer_id=ids["rep"],
            owner_id=ids["rep"],
            amount="10.00",
            product_line="ERP",
            opened_on=date(2026, 1, 1),
        )
    with pytest.raises(NotFound):
        ledger.store.load(Rep, ids["deal"])
