"""Rep timelines and target sheets, on the aggregates alone."""

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from domain.errors import Conflict, InvalidInput
from domain.rep import Rep
from domain.target import TargetSheet
from domain.values import LEVEL_DUTIES, Level, Period, can_manage


def rep() -> Rep:
    return Rep.hire(uuid4(), name="张伟", level="junior", team="华东一组", region="华东", hired_on=date(2025, 1, 1))


def test_back_dated_changes_fold_by_effective_date():
    r = rep()
    r.transfer(team="华南一组", region="华南", manager_id=None, effective_from=date(2026, 6, 1), reason="re-org")
    r.change_level(
        level="mid", effective_from=date(2026, 3, 1), reason="promotion"
    )  # recorded later, effective earlier
    assert r.as_of(date(2026, 2, 28))["level"] == "junior"
    assert (r.as_of(date(2026, 5, 31))["level"], r.as_of(date(2026, 5, 31))["team"]) == ("mid", "华东一组")
    assert (r.level, r.team, r.region) == ("mid", "华南一组", "华南")
    assert r.as_of(date(2024, 12, 31)) is None  # before hiring
    [_, transfer, promotion] = r.collect_events()
    assert (promotion.from_level, promotion.to_level, promotion.direction) == ("junior", "mid", "promotion")
    assert transfer.from_assignment == {"team": "华东一组", "region": "华东", "manager_id": None}


def test_level_change_rules():
    r = rep()
    with pytest.raises(Conflict):
        r.change_level(level="junior", effective_from=date(2026, 1, 1), reason="x")
    with pytest.raises(InvalidInput):
        r.change_level(level="mid", effective_from=date(2024, 1, 1), reason="before hiring")
    with pytest.raises(InvalidInput):
        r.change_level(level="mid", effective_from=date(2026, 1, 1), reason=" ")
    r.change_level(level="senior", effective_from=date(2026, 1, 1), reason="fast track")
    r.change_level(level="mid", effective_from=date(2026, 7, 1), reason="performance")
    assert r.collect_events()[-1].direction == "demotion"
    r.leave(effective_on=date(2026, 9, 30), reason="moved city")
    assert r.status == "left" and r.as_of(date(2026, 9, 29))["status"] == "active"
    with pytest.raises(Conflict):
        r.transfer(team="x", region="y", manager_id=None, effective_from=date(2026, 10, 1), reason="z")


def sheet(metric="revenue", period="2026") -> TargetSheet:
    return TargetSheet.open(period=period, metric=metric)


def test_levels_have_one_definition_with_their_order_and_duties():
    assert [level.value for level in Level] == ["junior", "mid", "senior", "manager", "director"]
    assert [Level(v).rank for v in ("junior", "director")] == [0, 4]
    assert set(LEVEL_DUTIES) == set(Level) and rep().as_dict()["duties"] == Level.JUNIOR.duties
    assert [v for v in Level if can_manage(v)] == ["manager", "director"] and not can_manage(None)


def test_only_a_manager_or_director_in_post_on_the_day_may_manage():
    r = rep()
    with pytest.raises(Conflict) as refused:
        r.may_manage(date(2026, 1, 1))
    assert (refused.value.code, refused.value.details["field"], refused.value.details["level"]) == (
        "manager_not_allowed",
        "manager_id",
        "junior",
    )
    r.change_level(level="manager", effective_from=date(2026, 3, 1), reason="promotion")
    r.leave(effective_on=date(2026, 9, 1), reason="离职")
    with pytest.raises(Conflict):
        r.may_manage(date(2026, 2, 28))  # still junior then
    r.may_manage(date(2026, 3, 1))
    with pytest.raises(Conflict) as refused:
        r.may_manage(date(2024, 12, 31), "reassign_to")  # not yet hired
    assert refused.value.details == {**refused.value.details, "field": "reassign_to", "level": None}
    with pytest.raises(Conflict):
        r.may_manage(date(2026, 9, 1))  # left by then


def test_a_leave_takes_effect_on_its_date():
    r = rep()
    r.leave(effective_on=date(2026, 12, 15), reason="合同到期")
    assert r.status == "left"  # the latest state, once every recorded change has taken effect
    assert not r.has_left(date(2026, 12, 14)) and r.has_left(date(2026, 12, 15))


def test_decomposition_children_must_sum_to_parent():
    s = sheet()
    s.set(scope="company", value="1000000.00", reason=None)
    with pytest.raises(Conflict) as mismatch:
        s.decompose(
            parent="company",
            children=[{"scope": "region:华东", "value": "600000"}, {"scope": "region:华南", "value": "300000"}],
            reason=None,
        )
    assert mismatch.value.code == "decomposition_mismatch" and mismatch.value.details["children_sum"] == "900000.00"
    with pytest.raises(InvalidInput):
        s.decompose(parent="company", children=[{"scope": "team:华东一组", "value": "1000000"}], reason=None)
    s.decompose(
        parent="company",
        children=[{"scope": "region:华东", "value": "600000"}, {"scope": "region:华南", "value": "400000"}],
        reason=None,
    )
    assert s.values["region:华东"] == Decimal("600000.00")
    with pytest.raises(Conflict):  # a decomposed child changes only through a new decomposition
        s.set(scope="region:华东", value="700000", reason="more")
    with pytest.raises(InvalidInput):  # changing a decomposition needs a reason
        s.decompose(
            parent="company",
            children=[{"scope": "region:华东", "value": "500000"}, {"scope": "region:华南", "value": "500000"}],
            reason=None,
        )
    s.decompose(
        parent="company",
        children=[
            {"scope": "region:华东", "value": "500000"},
            {"scope": "region:华南", "value": "300000"},
            {"scope": "region:华北", "value": "200000"},
        ],
        reason="new centre",
    )
    assert set(s.children["company"]) == {"region:华北", "region:华东", "region:华南"}


def test_target_values_and_edit_reasons():
    counts = sheet("contracts_signed", "2026-11")
    with pytest.raises(InvalidInput):
        counts.set(scope="rep:x", value="2.5", reason=None)
    counts.set(scope="rep:x", value="10", reason=None)
    with pytest.raises(InvalidInput):
        counts.set(scope="rep:x", value="12", reason=None)
    counts.set(scope="rep:x", value="12", reason="new product")
    [_, _first, edit] = counts.collect_events()
    assert (edit.previous, edit.value, edit.reason) == (Decimal(10), Decimal(12), "new product")
    with pytest.raises(InvalidInput):
        sheet("revenue").set(scope="everyone", value="1", reason=None)
    with pytest.raises(InvalidInput):
        TargetSheet.open(period="2026-13", metric="revenue")
    with pytest.raises(InvalidInput):
        TargetSheet.open(period="2026", metric="happiness")


def test_period_navigation():
    assert Period.parse("2026-01").previous().label == "2025-12"
    assert Period.parse("2026-Q1").previous().label == "2025-Q4"
    assert Period.parse("2026-Q3").previous().label == "2026-Q2"
    assert Period.parse("2026").previous().label == "2025"
    assert [p.label for p in Period.parse("2026-11").enclosing()] == ["2026-Q4", "2026"]
    assert Period.parse("2026-11").working_days() == 21
