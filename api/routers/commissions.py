"""Commission plans and statements: live for open months, frozen for closed ones; explain,
verify, simulate, CSV, adjustments, disputes and the period close."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from api.access import (
    ADMIN,
    AUDITOR,
    EVERYONE,
    FIELD_WORK,
    FINANCE,
    MANAGER,
    MONEY,
    AccessDep,
    Allow,
    CommissionLine,
    Record,
)
from api.deps import MetaDep, RuntimeDep, answer
from api.encoding import Json
from api.errors import Forbidden
from api.models import Amount, Body, OptionalText, Receipt, SaneDate, Text
from domain.commission.calc import Calculator, Line
from domain.commission.period import CommissionPeriod, month
from domain.commission.plan import Plan
from domain.commission.statements import frozen_statement, render, statement_lines
from domain.errors import Conflict, InvalidInput, NotFound
from domain.rep import Rep
from domain.values import Period
from infrastructure.runtime import Runtime
from projections.commissions import HypotheticalPlan, StoreInputs
from projections.engine.tracking import active_position

router = APIRouter(tags=["commissions"])
NEEDS = ("commissions", "org", "targets")


class AssignPlan(Body):
    plan_id: Text
    effective_from: SaneDate


class Adjustment(Body):
    rep_id: Text
    kind: str = Field(examples=["adjustment", "deduction"])
    amount: Amount
    reason: Text
    approver_id: OptionalText = Field(
        None, description="the approving manager or director; a manager's key approves in its own name"
    )


class Dispute(Body):
    rep_id: Text
    line_id: Text
    reason: Text


class Resolution(Body):
    outcome: str = Field(examples=["accepted", "rejected"])
    reason: Text
    resolver_id: Text
    amount: Amount | None = None
    post_to: OptionalText = None


class Simulation(Body):
    plan: dict[str, Any]
    period: str
    rep_ids: Annotated[list[str], Field(max_length=1000)] | None = None


class Close(Body):
    pass


# -- plans -------------------------------------------------------------------------------------------
@router.post("/plans", dependencies=[Allow(MONEY)], status_code=201, tags=["plans"], response_model=Receipt)
def create_plan(body: dict[str, Any], rt: RuntimeDep, meta: MetaDep):
    """A plan: name, currency, period (month), effective_from, clawback_days and components
    (tiered_rate, override, rank_bonus, team_target_bonus). Answers version 1."""
    written = rt.ledger.commissions.create_plan(meta, body)
    return answer(rt, written, 201)


@router.post(
    "/plans/{plan_id}/versions", dependencies=[Allow(MONEY)], status_code=201, tags=["plans"], response_model=Receipt
)
def add_version(plan_id: str, body: dict[str, Any], rt: RuntimeDep, meta: MetaDep):
    """A new version with a later effective_from; credits dated from then are paid under it."""
    return answer(rt, rt.ledger.commissions.add_plan_version(meta, plan_id, body), 201)


@router.get("/plans/{plan_id}", dependencies=[Allow(EVERYONE)], tags=["plans"])
def get_plan(plan_id: str, rt: RuntimeDep):
    plan = rt.ledger.store.load(Plan, plan_id)
    return Json({"id": str(plan.id), "version": len(plan.versions), "versions": plan.versions})


@router.post(
    "/reps/{rep_id}/plan", dependencies=[Allow(MONEY, scope=Record(Rep))], tags=["plans"], response_model=Receipt
)
def assign_plan(rep_id: str, body: AssignPlan, rt: RuntimeDep, meta: MetaDep):
    """Put a rep on a plan from a date."""
    return answer(rt, rt.ledger.commissions.assign_plan(meta, rep_id, **body.model_dump()))


# -- statements ----------------------------------------------------------------------------------------
class Statements:
    """One request's view of the commission books: ledgers loaded once, inputs read once."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._ledgers: dict[str, CommissionPeriod] = {}

    def ledger(self, label: str) -> CommissionPeriod:
        if label not in self._ledgers:
            self._ledgers[label] = self.rt.ledger.commissions.commission_period(label)
        return self._ledgers[label]

    def inputs(self, until_position: int | None = None, plan: dict | None = None, rep_ids=None) -> StoreInputs:
        self.rt.fresh(*NEEDS)
        with self.rt.db.read() as tx:
            if plan is not None:
                return HypotheticalPlan(tx, plan, rep_ids)
            if until_position is None:
                until_position = min(active_position(tx, name) or 0 for name in NEEDS)
            return StoreInputs(tx, until_position)

    @staticmethod
    def currency(inputs: StoreInputs, rep_id: str, period: Period) -> str:
        found = inputs.plan_for(rep_id, period.end)
        return found[1]["currency"] if found else "CNY"

    def live(
        self, period: Period, *, settle: bool = False, inputs: StoreInputs | None = None
    ) -> tuple[StoreInputs, dict[str, list[Line]]]:
        inputs = inputs or self.inputs()
        return inputs, statement_lines(inputs, self.ledger, period, inputs.closed, settle=settle)

    def statement(self, rep_id: str, label: str) -> dict[str, Any]:
        period = month(label)
        rep = str(self.rt.ledger.store.load(Rep, rep_id).id)
        ledger = self.ledger(period.label)
        if ledger.status == "closed":
            kept = ledger.statements.get(rep) or {
                "rep_id": rep,
                "period": period.label,
                "currency": "CNY",
                "status": "closed",
                "total": Decimal("0.00"),
                "digest": render(rep, period.label, "CNY", "closed", [])["digest"],
                "lines": [],
            }
            return {
                **kept,
                "lines": [{k: v for k, v in line.items() if k not in ("key", "explain")} for line in kept["lines"]],
                "closed_as_of_position": ledger.as_of_position,
            }
        inputs, lines = self.live(period)
        result = render(rep, period.label, self.currency(inputs, rep, period), "open", lines.get(rep, []))
        result["note"] = "open: live figures; rank and team-target bonuses are settled at close"
        return result


@router.get(
    "/commissions/statements/{rep_id}/{period}.csv",
    dependencies=[Allow(EVERYONE, scope=Record(Rep))],
    response_class=Response,
    responses={
        200: {
            "description": "the statement as CSV (UTF-8 with BOM, opens in Excel)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def statement_csv(rep_id: str, period: str, rt: RuntimeDep):
    """The statement for finance: UTF-8 with a BOM so spreadsheets show Chinese names correctly."""
    statement = Statements(rt).statement(rep_id, period)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["id", "kind", "deal_id", "component", "basis_amount", "amount", "plan_id", "plan_version"]
    writer.writerow(["rep_id", "rep_name", "period", "currency", "status", *columns])
    name = rt.ledger.store.load(Rep, rep_id).name
    for line in statement["lines"]:
        writer.writerow(
            [
                statement["rep_id"],
                name,
                statement["period"],
                statement["currency"],
                statement["status"],
                *["" if line[c] is None else line[c] for c in columns],
            ]
        )
    writer.writerow(
        [
            statement["rep_id"],
            name,
            statement["period"],
            statement["currency"],
            statement["status"],
            "total",
            "",
            "",
            "",
            "",
            statement["total"],
            "",
            "",
        ]
    )
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{rep_id}-{period}.csv"'},
    )


@router.get("/commissions/statements/{rep_id}/{period}/verify", dependencies=[Allow(EVERYONE, scope=Record(Rep))])
def verify(rep_id: str, period: str, rt: RuntimeDep):
    """Recompute a closed statement from history as it stood at the close and compare digests;
    also list what history has changed since (paid as adjustments in the next open month)."""
    books = Statements(rt)
    label = month(period).label
    rep = str(rt.ledger.store.load(Rep, rep_id).id)
    ledger = books.ledger(label)
    if ledger.status != "closed":
        raise InvalidInput(f"{label} is open: only closed statements can be verified", field="period")
    kept = ledger.statements.get(
        rep, {"lines": [], "digest": render(rep, label, "CNY", "closed", [])["digest"], "currency": "CNY"}
    )
    at_close = books.inputs(until_position=ledger.as_of_position)
    recomputed = render(
        rep,
        label,
        kept["currency"],
        "closed",
        statement_lines(at_close, books.ledger, Period.parse(label), at_close.closed, settle=True).get(rep, []),
    )
    now_inputs = books.inputs()
    closed_before = {p: v for p, v in now_inputs.closed.items() if p != label}
    now = render(
        rep,
        label,
        kept["currency"],
        "closed",
        statement_lines(now_inputs, books.ledger, Period.parse(label), closed_before, settle=True).get(rep, []),
    )
    return Json(
        {
            "rep_id": rep,
            "period": label,
            "frozen_digest": kept["digest"],
            "recomputed_digest": recomputed["digest"],
            "verified": kept["digest"] == recomputed["digest"],
            "differences": _differences(kept["lines"], recomputed["lines"]),
            "changed_since_close": _differences(kept["lines"], now["lines"]),
        }
    )


def _differences(frozen: list[dict], recomputed: list[dict]) -> list[dict]:
    was = {line["id"]: Decimal(str(line["amount"])) for line in frozen}
    now = {line["id"]: line["amount"] for line in recomputed}
    return [
        {"line_id": i, "frozen": was.get(i), "recomputed": now.get(i)}
        for i in sorted(set(was) | set(now))
        if was.get(i) != now.get(i)
    ]


@router.get("/commissions/statements/{rep_id}/{period}", dependencies=[Allow(EVERYONE, scope=Record(Rep))])
def statement(rep_id: str, period: str, rt: RuntimeDep):
    """A rep's statement for a month: live while open, frozen once closed."""
    return Json(Statements(rt).statement(rep_id, period))


@router.get("/commissions/lines/{line_id}/explain", dependencies=[Allow(EVERYONE, scope=CommissionLine())])
def explain(line_id: str, rt: RuntimeDep):
    """Where a line's money came from: plan, version, component, basis before/after, tier walk,
    target, split share and the source events with their store positions."""
    try:
        label, rep_id, _ = line_id.split("~")
        period = month(label)
    except (ValueError, InvalidInput):
        raise NotFound(f"no commission line {line_id}", kind="line", id=line_id) from None
    books = Statements(rt)
    ledger = books.ledger(period.label)
    if ledger.status == "closed":
        lines = (ledger.statements.get(rep_id) or {}).get("lines", [])
        found = next((x for x in lines if x["id"] == line_id), None)
        if found:
            return Json(
                {
                    "line": {k: v for k, v in found.items() if k not in ("key", "explain")},
                    "rep_id": rep_id,
                    "period": period.label,
                    "status": "closed",
                    **found["explain"],
                }
            )
    else:
        _, lines = books.live(period)
        found = next((x for x in lines.get(rep_id, []) if x.id == line_id), None)
        if found:
            return Json(
                {"line": found.public(), "rep_id": rep_id, "period": period.label, "status": "open", **found.explain}
            )
    raise NotFound(f"no commission line {line_id}", kind="line", id=line_id)


# -- periods ----------------------------------------------------------------------------------------
@router.post("/commissions/periods/{period}/close", dependencies=[Allow(MONEY)], response_model=Receipt)
def close(period: str, rt: RuntimeDep, meta: MetaDep, body: Close | None = None):
    """Freeze every statement of the month (rank and team bonuses settled now) as one event with
    a SHA-256 digest per statement. Later changes to the month become adjustments in the next
    open month."""
    books = Statements(rt)
    label = month(period).label
    if books.ledger(label).status == "closed":
        raise Conflict(f"{label} is already closed", code="period_closed", period=label)
    inputs = books.inputs()
    lines = statement_lines(inputs, books.ledger, Period.parse(label), inputs.closed, settle=True)
    reps = set(lines) | {rep for rep in inputs.reps() if inputs.plan_for(rep, Period.parse(label).end)}
    statements = {
        rep: frozen_statement(rep, label, books.currency(inputs, rep, Period.parse(label)), lines.get(rep, []))
        for rep in sorted(reps)
    }
    written = rt.ledger.commissions.close_commission_period(
        meta, label, statements=statements, as_of_position=inputs.until_position or 0
    )
    return answer(rt, written)


@router.post(
    "/commissions/periods/{period}/adjustments",
    dependencies=[Allow(MANAGER, FINANCE, ADMIN)],
    status_code=201,
    response_model=Receipt,
)
def adjust(period: str, body: Adjustment, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """A manual adjustment or a deduction (penalty), with a reason and a manager's approval.
    Managers approve adjustments for the reps below them; deductions are posted by finance."""
    if access.role == MANAGER:
        if body.kind == "deduction":
            raise Forbidden("deductions are posted by finance", role=access.role)
        access.not_own(body.rep_id, "your own pay")
        body.approver_id = body.approver_id or access.principal.rep_id
        access.myself(body.approver_id, "approver_id")
    access.rep(body.rep_id)
    if not body.approver_id:
        raise InvalidInput("approver_id is required: the manager or director approving this", field="approver_id")
    return answer(rt, rt.ledger.commissions.post_commission_adjustment(meta, period, **body.model_dump()), 201)


@router.post(
    "/commissions/periods/{period}/disputes", dependencies=[Allow(FIELD_WORK)], status_code=201, response_model=Receipt
)
def dispute(period: str, body: Dispute, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """A rep disputes a line of their statement (or their manager does for them)."""
    access.rep(body.rep_id)
    rep = str(rt.ledger.store.load(Rep, body.rep_id).id)
    if not body.line_id.startswith(f"{month(period).label}~{rep}~"):
        raise InvalidInput("line_id is not a line of this rep's statement for this period", field="line_id")
    return answer(
        rt, rt.ledger.commissions.open_dispute(meta, period, rep_id=rep, line_id=body.line_id, reason=body.reason), 201
    )


@router.post(
    "/commissions/periods/{period}/disputes/{dispute_id}/resolve", dependencies=[Allow(MONEY)], response_model=Receipt
)
def resolve(period: str, dispute_id: str, body: Resolution, rt: RuntimeDep, meta: MetaDep):
    """Accepted: an adjustment line (in this month, or `post_to` when it is closed); rejected: the reason."""
    return answer(rt, rt.ledger.commissions.resolve_dispute(meta, period, dispute_id, **body.model_dump()))


@router.post("/commissions/simulate", dependencies=[Allow(FINANCE, AUDITOR, ADMIN)])
def simulate(body: Simulation, rt: RuntimeDep):  # finance, auditors and admins: every rep's figures
    """What-if statements under a hypothetical plan over real history; writes nothing."""
    books = Statements(rt)
    period = month(body.period)
    inputs = books.inputs(plan=body.plan, rep_ids=body.rep_ids)
    lines = Calculator(inputs).lines(period, settle=True)
    reps = body.rep_ids or sorted(lines)
    statements = [render(rep, period.label, inputs.body["currency"], "simulated", lines.get(rep, [])) for rep in reps]
    return Json(
        {
            "period": period.label,
            "plan": inputs.body,
            "statements": statements,
            "total": sum((s["total"] for s in statements), Decimal("0.00")),
        }
    )
