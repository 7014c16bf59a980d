"""Domain rules and read models written with the given/when/then kit, on each backend."""

from datetime import date

from domain.errors import InvalidInput
from projections.org import org_as_of
from tests.kit import customer, hired, opened, transferred, won


def test_a_first_win_makes_the_prospect_an_active_customer(kit):
    kit.given(
        hired("amy", "senior"), customer("上海精密", owner="amy"), opened("d1", owner="amy", customer_name="上海精密")
    )
    kit.when(won("d1", "80000.00", on="2026-03-02"))
    win, lifecycle = kit.then_events("DealWon", "CustomerLifecycleChanged")
    assert win.event.signed_on == date(2026, 3, 2)
    assert lifecycle.aggregate_id == kit.ids["上海精密"]


def test_a_win_dated_before_the_deal_opened_is_refused(kit):
    kit.given(
        hired("amy", "senior"),
        customer("上海精密", owner="amy"),
        opened("d1", owner="amy", customer_name="上海精密", on="2026-02-01"),
    )
    kit.when(won("d1", "80000.00", on="2026-01-15"))
    refused = kit.then_error(InvalidInput, field="signed_on")  # and nothing recorded
    assert "signed_on" in str(refused)


def test_the_org_timeline_places_a_transfer_on_its_date(kit):
    kit.given(
        hired("boss", "manager"),
        hired("amy", "senior", manager="boss"),
        transferred("amy", team="South", region="华南", on="2026-03-01"),
    )
    before = kit.then_query("org", lambda tx: org_as_of(tx, date(2026, 2, 28)))
    after = kit.then_query("org", lambda tx: org_as_of(tx, date(2026, 3, 1)))
    team = {n["name"]: n["team"] for n in before["nodes"]}, {n["name"]: n["team"] for n in after["nodes"]}
    assert team == ({"boss": "East", "amy": "East"}, {"boss": "East", "amy": "South"})
