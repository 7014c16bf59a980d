"""Assessments with the given/when/then kit, on each backend: who customers' satisfaction counts
for, improvement plans by the managers above a rep, the events a finalization records and the
finalized grade the assessment bonus reads, and a programme's due date."""

from datetime import date
from decimal import Decimal

import pytest

from application import SalesLedger, clock
from domain.errors import Conflict
from domain.values import Period
from projections.assessments import finalized_grade, programme_report, satisfaction
from tests.integration.test_staff_kit import reviewed, trained
from tests.kit import META, Step, customer, hired

SCHEME = {
    "name": "月度考核",
    "period": "month",
    "effective_from": "2026-01-01",
    "indicators": [{"key": "skill", "source": "review:rating", "weight": "1", "zero_at": "1", "full_at": "5"}],
    "grades": [{"grade": "A", "min_score": "75"}, {"grade": "B", "min_score": "50"}],
}


@pytest.fixture(autouse=True)
def today():
    clock.set_today(date(2026, 3, 15))
    yield
    clock.set_today(None)


def feedback(name: str, score: int, on: str, rep: str | None = None) -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> object:
        return ledger.customers.give_feedback(
            META, ids[name], score=score, given_on=date.fromisoformat(on), rep_id=ids[rep] if rep else None
        )

    return step


def owner_moved(name: str, to: str, on: str) -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> object:
        return ledger.customers.transfer_customer(
            META, ids[name], owner_id=ids[to], reason="调整", effective_on=date.fromisoformat(on)
        )

    return step


def scheme(body: dict) -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> object:
        written = ledger.assessments.create_scheme(META, body)
        ids["scheme"] = written.id
        return written

    return step


def finalized(period: str) -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> object:
        return ledger.assessments.finalize(META, period)

    return step


def improvement_plan(name: str, *, by: str, due: str = "2026-03-31") -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> object:
        return ledger.assessments.record_improvement_plan(
            META,
            ids[name],
            period="2026-02",
            causes="拜访量不足",
            actions="每周拜访五家",
            due_on=date.fromisoformat(due),
            manager_id=ids[by],
        )

    return step


def test_satisfaction_counts_for_the_named_rep_else_the_owner_then(kit):
    kit.given(
        hired("amy", "mid"),
        hired("bo", "mid"),
        customer("苏州精密", owner="amy"),
        feedback("苏州精密", 4, "2026-02-03"),  # Amy owns it
        feedback("苏州精密", 2, "2026-02-10", rep="bo"),  # named: Bo's
        owner_moved("苏州精密", "bo", "2026-02-15"),
        feedback("苏州精密", 5, "2026-02-20"),  # Bo owns it now
        feedback("苏州精密", 1, "2026-03-01"),  # another month
    )
    ids = [kit.ids["amy"], kit.ids["bo"]]
    got = kit.then_query("assessments", lambda tx: satisfaction(tx, ids, Period.parse("2026-02")))
    assert (got[kit.ids["amy"]]["feedback"], got[kit.ids["amy"]]["average"]) == (1, Decimal("4.00"))
    assert (got[kit.ids["bo"]]["feedback"], got[kit.ids["bo"]]["average"]) == (2, Decimal("3.50"))


def test_an_improvement_plan_is_recorded_by_a_manager_above_the_rep_only(kit):
    kit.given(
        hired("boss", "director"),
        hired("mgr", "manager", manager="boss"),
        hired("peer", "manager", manager="boss"),
        hired("amy", "mid", manager="mgr"),
    )
    kit.when(improvement_plan("amy", by="boss"))
    (plan,) = kit.then_events("ImprovementPlanRecorded")
    assert (plan.event.rep_id, plan.event.manager_id, plan.event.period) == (kit.ids["amy"], kit.ids["boss"], "2026-02")
    for name in ("peer", "amy"):
        kit.when(improvement_plan("amy", by=name))
        kit.then_error(Conflict, field="manager_id")


def test_finalizing_records_each_reps_grade_for_the_assessment_bonus(kit):
    kit.given(
        hired("mgr", "manager"),
        hired("amy", "mid", manager="mgr"),
        hired("bo", "junior", manager="mgr"),
        scheme(SCHEME),
        reviewed("amy", "2026-02", 4, by="mgr", on="2026-02-27"),  # 75 points: exactly A
    )
    kit.when(finalized("2026-02"))
    records = kit.then_events(
        "AssessmentRoundFinalized", *["AssessmentRoundScorecardFrozen"] * 3
    )  # the manager, Amy and Bo: the scheme applies to everyone
    frozen = {r.event.rep_id: r.event for r in records[1:]}
    amy = frozen[kit.ids["amy"]]
    assert (amy.scheme_id, amy.period, amy.grade, amy.score) == (kit.ids["scheme"], "2026-02", "A", "75.00")
    assert (frozen[kit.ids["bo"]].grade, frozen[kit.ids["bo"]].score) == (None, "0.00")  # no review: no grade
    grade = kit.then_query("assessments", lambda tx: finalized_grade(tx, kit.ids["scheme"], "2026-02", kit.ids["amy"]))
    assert (grade["grade"], grade["score"], grade["digest"]) == ("A", Decimal("75.00"), amy.digest)
    kit.when(finalized("2026-02"))
    kit.then_error(Conflict)
    kit.when(finalized("2026-03"))  # today is 15 March
    assert kit.then_error(Conflict).code == "period_not_ended"


def test_programme_hours_count_up_to_and_including_the_due_date(kit):
    kit.given(
        hired("amy", "mid"),
        hired("bo", "mid"),
        trained("amy", "sales_skills", "6", "2026-03-10"),
        trained("amy", "sales_skills", "2", "2026-03-20"),  # on the due date
        trained("bo", "sales_skills", "6", "2026-03-10"),
        trained("bo", "sales_skills", "2", "2026-03-21"),  # a day late
    )
    written = kit.ledger.assessments.create_programme(
        META, name="顾问式销售", topic="sales_skills", required_hours="8", due_by=date(2026, 3, 20), audience=None
    )
    kit.then_query("staff", lambda tx: None)  # the trainings, read from the staff read model
    report = kit.then_query("assessments", lambda tx: programme_report(tx, written.id, on=date(2026, 3, 20)))
    rows = {r["rep_id"]: r for r in report["items"]}
    assert (rows[kit.ids["amy"]]["complete"], rows[kit.ids["amy"]]["short_by"]) == (True, Decimal("0.00"))
    assert (rows[kit.ids["bo"]]["complete"], rows[kit.ids["bo"]]["short_by"]) == (False, Decimal("2.00"))
