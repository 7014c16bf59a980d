"""Changing an event's schema: a stored version-1 DealWon (no payment_due_on) still replays,
upcast on read, in the aggregate and in every projection."""

import json
from datetime import date
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.deal import Deal
from projections.accounts import customer_accounts
from projections.engine.catalog import by_name
from projections.engine.runner import rebuild
from tests.helpers import META, seed_deal

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "deal_won_v1.json").read_text(encoding="utf-8"))


def test_a_stored_v1_event_upcasts_and_replays(runtime):
    ids = seed_deal(runtime.ledger, amount="1000.00")
    state = json.dumps(FIXTURE["state"], ensure_ascii=False).encode("utf-8")
    deal_id = UUID(ids["deal"])
    runtime.ledger.store.recorder.insert_events(
        [StoredEvent(originator_id=deal_id, originator_version=2, topic=FIXTURE["topic"], state=state)]
    )
    deal = runtime.ledger.store.load(Deal, deal_id)
    assert (deal.status, deal.signed_on, deal.payment_due_on) == ("won", date(2026, 3, 1), date(2026, 3, 31))
    runtime.ledger.deals.receive_payment(META, ids["deal"], amount="400.00", received_on=date(2026, 3, 20))
    [record] = [r for r in runtime.source.read(0, 100) if r.type == "DealWon"]
    assert record.event.payment_due_on == date(2026, 3, 31) and record.event.meta["actor"] == "v1-client"
    for name in ("pipeline", "accounts", "commissions", "kpi"):
        rebuild(runtime.db, runtime.source, by_name(name))
    with runtime.db.read() as tx:
        [row] = customer_accounts(tx, ids["customer"], date(2026, 4, 1))["deals"]
    assert (row["status"], row["payment_due_on"], str(row["receivable"])) == ("won", "2026-03-31", "600.00")
