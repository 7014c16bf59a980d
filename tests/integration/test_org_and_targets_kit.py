"""Org rules and the targets read model with the given/when/then kit, on each backend."""

from datetime import date

from domain.errors import Conflict
from domain.values import Period
from projections.targets import targets_in_force
from tests.kit import META, hired, transferred


def promoted(name: str, level: str, *, on: str):
    def step(ledger, ids):
        return ledger.org.change_rep_level(
            META, ids[name], level=level, effective_from=date.fromisoformat(on), reason="晋升"
        )

    return step


def target(scope: str, value: str, *, period: str = "2026-11", metric: str = "revenue", reason: str | None = None):
    def step(ledger, ids):
        kind, _, name = scope.partition(":")
        resolved = f"rep:{ids[name]}" if kind == "rep" else scope
        return ledger.targets.set_target(META, period=period, metric=metric, scope=resolved, value=value, reason=reason)

    return step


def decomposed(parent: str, children: dict[str, str], *, period: str = "2026", reason: str | None = None):
    def step(ledger, ids):
        return ledger.targets.decompose_target(
            META,
            period=period,
            metric="revenue",
            parent=parent,
            children=[{"scope": s, "value": v} for s, v in children.items()],
            reason=reason,
        )

    return step


def test_a_senior_cannot_be_made_anyones_manager(kit):
    kit.given(hired("boss", "senior"))
    kit.when(hired("amy", "junior", manager="boss"))
    error = kit.then_error(Conflict, field="manager_id", level="senior")
    assert error.code == "manager_not_allowed"


def test_a_promotion_makes_a_manager_from_its_effective_date(kit):
    kit.given(
        hired("boss", "senior"),
        hired("lead", "manager"),
        hired("amy", "junior", manager="lead"),
        promoted("boss", "manager", on="2026-03-01"),
    )
    kit.when(transferred("amy", manager="boss", on="2026-02-28"))
    refused = kit.then_error(Conflict, field="manager_id", level="senior")  # and nothing recorded
    assert refused.code == "manager_not_allowed"
    kit.when(transferred("amy", manager="boss", on="2026-03-01"))
    [moved] = kit.then_events("RepTransferred")
    assert moved.aggregate_id == kit.ids["amy"]


def test_targets_are_read_from_one_table_now_and_at_any_position(kit):
    kit.given(hired("amy", "senior"), target("company", "1200000.00", period="2026"))
    first = kit.ledger.targets.set_target(
        META, period="2026-11", metric="revenue", scope=f"rep:{kit.ids['amy']}", value="90000.00"
    )
    kit.given(
        target("rep:amy", "95000.00", reason="调整"),
        target("rep:amy", "12", metric="contracts_signed"),
        decomposed("company", {"region:华东": "800000.00", "region:华南": "400000.00"}),
        decomposed("company", {"region:华东": "1200000.00"}, reason="华南并入华东"),
    )
    now = kit.then_query("targets", targets_in_force)
    amy = f"rep:{kit.ids['amy']}"
    nov = Period.parse("2026-11")
    assert now.get(nov, "revenue", amy) == (now.values[("2026-11", "revenue", amy)], "set")
    assert now.values[("2026-11", "revenue", amy)] == 95000 and now.values[("2026-11", "contracts_signed", amy)] == 12
    assert ("2026", "revenue", "region:华南") not in now.values  # dropped by the second decomposition
    assert now.get(nov, "revenue", "region:华东")[1] == "prorated from 2026"
    then = kit.then_query("targets", lambda tx: targets_in_force(tx, metric="revenue", until_position=first.position))
    assert then.values == {("2026", "revenue", "company"): 1200000, ("2026-11", "revenue", amy): 90000}


def test_the_org_timeline_is_built_once_per_position_of_the_org_read_model(kit):
    """Queries share one timeline while the org read model stands still, and a change to the
    org is seen by the next query once the read model has it."""
    from projections.org import OrgHistory

    kit.given(hired("boss", "manager"), hired("amy", "junior", manager="boss"))
    first = kit.then_query("org", OrgHistory.of)
    assert kit.then_query("org", OrgHistory.of) is first
    assert first.attrs(kit.ids["amy"], date(2026, 6, 1))["level"] == "junior"
    kit.given(promoted("amy", "mid", on="2026-05-01"))
    with kit.runtime.db.read() as tx:  # the read model has not applied the promotion yet
        assert OrgHistory.of(tx) is first
    now = kit.then_query("org", OrgHistory.of)
    assert now is not first
    assert now.attrs(kit.ids["amy"], date(2026, 6, 1))["level"] == "mid"
    assert now.attrs(kit.ids["amy"], date(2026, 4, 30))["level"] == "junior"
