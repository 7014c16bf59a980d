"""Commission plans and statements: live for open months, frozen for closed ones; explain,
verify, simulate, CSV, adjustments, disputes and the period close."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import Request, Response
from pydantic import Field

from api.access import (
    ADMIN,
    AUDITOR,
    EVERYONE,
    FIELD_WORK,
    FINANCE,
    MANAGEMENT,
    MANAGER,
    MONEY,
    AccessDep,
    Allow,
    CommissionLine,
    Record,
)
from api.deps import MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.errors import Forbidden
from api.listing import Cursor, Limit
from api.models import Amount, Body, FilterText, OptionalText, Receipt, SaneDate, Text
from api.responses.commissions import LineExplanation, PlanVersions, Statement, StatementVerification
from api.routing import Router
from api.schemas import PlanPage
from application.commissions import (
    READ_MODELS,
    ClosePeriod,
    ExplainLine,
    SimulatePlan,
    StatementOf,
    VerifyStatement,
)
from domain.commission.schema import PlanBody
from domain.rep import Rep
from projections.plans_list import list_plans as plans_page

router = Router(tags=["commissions"])


class AssignPlan(Body):
    plan_id: Text
    effective_from: SaneDate


class QuotaRelief(Body):
    period: Text = Field(examples=["2026-Q2", "2026-05"])
    metric: Text = Field(examples=["revenue"])
    amount: Amount
    reason: Text


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
# The body is checked by the domain (every problem at once, by path); its shape is documented here.
PLAN_BODY = {"x-plan-body": True}


def document_plan_body(schema: dict[str, Any]) -> None:
    """Put PlanBody and its component models into the OpenAPI document, as the body of the plan routes."""
    models = PlanBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.setdefault("components", {}).setdefault("schemas", {}).update(
        {**models.pop("$defs", {}), "PlanBody": models}
    )
    for operations in schema["paths"].values():
        for operation in operations.values():
            if operation.pop("x-plan-body", False):
                content = operation["requestBody"]["content"]["application/json"]
                content["schema"] = {"$ref": "#/components/schemas/PlanBody"}


@router.post(
    "/plans",
    dependencies=[Allow(MONEY)],
    status_code=201,
    tags=["plans"],
    response_model=Receipt,
    openapi_extra=PLAN_BODY,
)
def create_plan(body: dict[str, Any], rt: RuntimeDep, meta: MetaDep):
    """A plan: name, currency, period (month), effective_from, clawback_days, an optional draw and
    components (tiered_rate, override, rank_bonus, team_target_bonus, target_bonus). Unknown keys
    are refused by path (`components[0].tier_mod`); every problem is listed in `details.errors`.
    Answers version 1."""
    written = rt.ledger.commissions.create_plan(meta, body)
    return answer(rt, written, 201)


@router.post(
    "/plans/{plan_id}/versions",
    dependencies=[Allow(MONEY)],
    status_code=201,
    tags=["plans"],
    response_model=Receipt,
    openapi_extra=PLAN_BODY,
)
def add_version(plan_id: str, body: dict[str, Any], rt: RuntimeDep, meta: MetaDep):
    """A new version with a later effective_from; credits dated from then are paid under it."""
    return answer(rt, rt.ledger.commissions.add_plan_version(meta, plan_id, body), 201)


@router.get("/plans", dependencies=[Allow(EVERYONE)], tags=["plans"], response_model=PlanPage)
def list_plans(
    request: Request,
    rt: RuntimeDep,
    after: Cursor = None,
    limit: Limit = 50,
    name: FilterText = None,
    min_position: MinPosition = None,
):
    """Every plan with its newest version (body, number, effective_from), by id; `next` is the
    cursor (pass it as `after`)."""
    await_position(request, "commissions", min_position)
    with rt.db.read() as tx:
        return Json(plans_page(tx, after=after, limit=limit, name=name))


@router.get("/plans/{plan_id}", dependencies=[Allow(EVERYONE)], tags=["plans"], response_model=PlanVersions)
def get_plan(plan_id: str, rt: RuntimeDep):
    return Json(rt.ledger.commissions.plan(plan_id))


@router.post(
    "/reps/{rep_id}/plan", dependencies=[Allow(MONEY, scope=Record(Rep))], tags=["plans"], response_model=Receipt
)
def assign_plan(rep_id: str, body: AssignPlan, rt: RuntimeDep, meta: MetaDep):
    """Put a rep on a plan from a date."""
    return answer(rt, rt.ledger.commissions.assign_plan(meta, rep_id, **body.model_dump()))


@router.post(
    "/reps/{rep_id}/quota-relief",
    dependencies=[Allow(MANAGEMENT | MONEY, scope=Record(Rep))],
    status_code=201,
    tags=["plans"],
    response_model=Receipt,
)
def relieve_quota(rep_id: str, body: QuotaRelief, rt: RuntimeDep, meta: MetaDep):
    """Quota relief: credit toward the rep's attainment of a period (a territory handed over
    mid-quarter), never commission basis: attainment = (actual + relief) / target."""
    return answer(rt, rt.ledger.commissions.relieve_quota(meta, rep_id, **body.model_dump()), 201)


# -- statements ----------------------------------------------------------------------------------------
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
def statement_csv(rep_id: str, period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """The statement for finance: UTF-8 with a BOM so spreadsheets show Chinese names correctly."""
    await_position(request, READ_MODELS, min_position)
    sheet = rt.ledger.commissions.statement_rows(StatementOf(rep_id, period))
    out = io.StringIO()
    csv.writer(out).writerows([sheet.header, *sheet.rows])
    return Response(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{sheet.filename}"'},
    )


@router.get(
    "/commissions/statements/{rep_id}/{period}/verify",
    dependencies=[Allow(EVERYONE, scope=Record(Rep))],
    response_model=StatementVerification,
)
def verify(rep_id: str, period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """Recompute a closed statement from history as it stood at the close and compare digests;
    also list what history has changed since (paid as adjustments in the next open month)."""
    await_position(request, READ_MODELS, min_position)
    return Json(rt.ledger.commissions.verify(VerifyStatement(rep_id, period)).as_dict())


@router.get(
    "/commissions/statements/{rep_id}/{period}",
    dependencies=[Allow(EVERYONE, scope=Record(Rep))],
    response_model=Statement,
)
def statement(rep_id: str, period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """A rep's statement for a month: live while open, frozen once closed."""
    await_position(request, READ_MODELS, min_position)
    return Json(rt.ledger.commissions.statement(StatementOf(rep_id, period)).as_dict())


@router.get(
    "/commissions/lines/{line_id}/explain",
    dependencies=[Allow(EVERYONE, scope=CommissionLine())],
    response_model=LineExplanation,
)
def explain(line_id: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """Where a line's money came from: plan, version, component, basis before/after, tier walk,
    target, split share and the source events with their store positions. Money values have two
    decimals; rates and shares are shown as they are."""
    await_position(request, READ_MODELS, min_position)
    return Json(rt.ledger.commissions.explain(ExplainLine(line_id)).as_dict())


# -- periods ----------------------------------------------------------------------------------------
@router.post("/commissions/periods/{period}/close", dependencies=[Allow(MONEY)], response_model=Receipt)
def close(period: str, rt: RuntimeDep, meta: MetaDep, body: Close | None = None):
    """Freeze every statement of the month (rank and team bonuses settled now) as one event with
    a SHA-256 digest per statement. Later changes to the month become adjustments in the next
    open month."""
    return answer(rt, rt.ledger.commissions.close_period(ClosePeriod(period), meta))


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
    return answer(rt, rt.ledger.commissions.post_commission_adjustment(meta, period, **body.model_dump()), 201)


@router.post(
    "/commissions/periods/{period}/disputes", dependencies=[Allow(FIELD_WORK)], status_code=201, response_model=Receipt
)
def dispute(period: str, body: Dispute, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """A rep disputes a line of their statement (or their manager does for them)."""
    access.rep(body.rep_id)
    return answer(rt, rt.ledger.commissions.open_dispute(meta, period, **body.model_dump()), 201)


@router.post(
    "/commissions/periods/{period}/disputes/{dispute_id}/resolve", dependencies=[Allow(MONEY)], response_model=Receipt
)
def resolve(period: str, dispute_id: str, body: Resolution, rt: RuntimeDep, meta: MetaDep):
    """Accepted: an adjustment line (in this month, or `post_to` when it is closed); rejected: the reason."""
    return answer(rt, rt.ledger.commissions.resolve_dispute(meta, period, dispute_id, **body.model_dump()))


@router.post("/commissions/simulate", dependencies=[Allow(FINANCE, AUDITOR, ADMIN)])
def simulate(body: Simulation, rt: RuntimeDep):  # finance, auditors and admins: every rep's figures
    """What-if statements under a hypothetical plan over real history; writes nothing."""
    rep_ids = tuple(body.rep_ids) if body.rep_ids else None
    return Json(rt.ledger.commissions.simulate(SimulatePlan(body.plan, body.period, rep_ids)).as_dict())
