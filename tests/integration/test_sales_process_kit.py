"""Proposals, delivery and the revisit plan with the given/when/then kit, on each backend."""

import os
import subprocess
import sys
from datetime import UTC, date, datetime

from application.customers import CheckRevisits
from domain.errors import InvalidInput
from domain.values import Period
from projections.deliveries import list_deliveries
from projections.revisits import customer_revisit, revisit_adherence
from tests.kit import META, customer, hired, opened, won


def graded(name: str, grade: str):
    def step(ledger, ids):
        return ledger.customers.grade_customer(META, ids[name], grade=grade, reason="评估")

    return step


def visited(name: str, rep: str, day: str, kind: str = "revisit"):
    def step(ledger, ids):
        moment = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
        return ledger.customers.log_visit(META, ids[name], rep_id=ids[rep], kind=kind, occurred_at=moment)

    return step


def proposal(deal: str, key: str, sent_on: str):
    def step(ledger, ids):
        written = ledger.deals.send_proposal(
            META, ids[deal], title="方案", amount="90000.00", sent_on=date.fromisoformat(sent_on)
        )
        ids[key] = written.extra["proposal_id"]
        return written

    return step


def outcome(deal: str, key: str, result: str, on: str):
    def step(ledger, ids):
        return ledger.deals.record_proposal_outcome(
            META, ids[deal], ids[key], outcome=result, on=date.fromisoformat(on)
        )

    return step


def delivery(deal: str, **milestones: str):
    def step(ledger, ids):
        plan = [{"name": name, "planned_on": date.fromisoformat(day)} for name, day in milestones.items()]
        return ledger.deals.plan_delivery(META, ids[deal], plan)

    return step


def revisit_check(as_of: str):
    def step(ledger, ids):
        return ledger.customers.check_revisits(CheckRevisits(as_of=date.fromisoformat(as_of)), META)

    return step


def test_an_outcome_dated_before_the_proposal_was_sent_is_refused(kit):
    kit.given(
        hired("amy", "senior"),
        customer("苏州", owner="amy"),
        opened("d1", owner="amy", customer_name="苏州"),
        proposal("d1", "p1", "2026-02-10"),
    )
    kit.when(outcome("d1", "p1", "accepted", "2026-02-09"))
    kit.then_error(InvalidInput, field="on")
    kit.when(outcome("d1", "p1", "accepted", "2026-02-12"))
    [accepted] = kit.then_events("DealProposalOutcomeRecorded")
    assert (accepted.event.outcome, accepted.event.on) == ("accepted", date(2026, 2, 12))


def test_a_milestone_planned_again_keeps_one_row_with_the_new_date(kit):
    kit.given(
        hired("amy", "senior"),
        customer("苏州", owner="amy"),
        opened("d1", owner="amy", customer_name="苏州"),
        won("d1", "90000.00", on="2026-02-20"),
        delivery("d1", 启动="2026-03-01", 上线="2026-04-01"),
        delivery("d1", 上线="2026-04-15"),
    )
    found = kit.then_query("deliveries", lambda tx: list_deliveries(tx, today=date(2026, 4, 2)))
    assert [(m["name"], m["planned_on"], m["status"]) for m in found["items"]] == [
        ("启动", "2026-03-01", "overdue"),
        ("上线", "2026-04-15", "open"),
    ]


def test_a_visit_after_the_check_resolves_the_recorded_overdue_revisit_as_late(kit):
    kit.given(
        hired("amy", "senior"),
        customer("苏州", owner="amy", on="2026-01-01"),
        graded("苏州", "C"),  # 90 days
        visited("苏州", "amy", "2026-01-10"),
        visited("苏州", "amy", "2026-01-05"),  # logged late, an earlier visit: the plan counts from 01-10
        visited("苏州", "amy", "2026-01-20", kind="call"),  # a call is not a visit
    )
    plan = kit.then_query("revisits", lambda tx: customer_revisit(tx, kit.ids["苏州"], date(2026, 2, 1)))
    assert (plan["last_visit_on"], plan["next_revisit_due"]) == ("2026-01-10", date(2026, 4, 10))
    kit.given(graded("苏州", "A"))  # 30 days: due at once on the new grade
    plan = kit.then_query("revisits", lambda tx: customer_revisit(tx, kit.ids["苏州"], date(2026, 2, 15)))
    assert (plan["next_revisit_due"], plan["status"], plan["days_overdue"]) == (date(2026, 2, 9), "overdue", 6)
    kit.when(revisit_check("2026-02-15"))
    [overdue] = kit.then_events("CustomerRevisitOverdue")
    assert (overdue.event.due_on, overdue.event.grade, overdue.event.days) == (date(2026, 2, 9), "A", 30)
    kit.given(visited("苏州", "amy", "2026-02-20"))
    february = kit.then_query("revisits", lambda tx: revisit_adherence(tx, period=Period.parse("2026-02")))
    assert february == {"on_time": 0, "late_or_overdue": 1, "rate": 0}
    january = kit.then_query("revisits", lambda tx: revisit_adherence(tx, period=Period.parse("2026-01")))
    assert january["rate"] is None  # nothing fell due in January


def test_the_revisit_check_from_the_command_line_is_idempotent(kit, database_url):
    env = {**os.environ, "DATABASE_URL": database_url}

    def cli(*args):
        command = [sys.executable, "-m", "api.cli", "customers", "revisit-check", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    kit.given(hired("amy", "senior"), customer("苏州", owner="amy", on="2026-01-01"), graded("苏州", "A"))
    first = cli("--as-of", "2026-03-01")
    assert first.returncode == 0 and "1 revisits now overdue" in first.stdout, first.stderr
    assert "due 2026-01-31" in first.stdout
    assert "0 revisits now overdue" in cli("--as-of", "2026-03-02").stdout
    assert cli("--as-of", "2999-01-01").returncode == 2  # a day that has not come
