"""Performance assessment (绩效考核): schemes, scorecards, finalization and its verification,
improvement plans (改善对策); and training programmes (培训体系) with their completion report."""

from __future__ import annotations

from typing import Any

from fastapi import Query, Request
from pydantic import Field

from api.access import EVERYONE, MANAGEMENT, MANAGER, OPERATIONS, AccessDep, Allow, Record
from api.deps import IfMatch, MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.models import Amount, Body, FilterText, Receipt, SaneDate, Text
from api.responses.assessments import (
    ImprovementPlanList,
    PeriodScorecards,
    ProgrammeReport,
    RepScorecards,
    SchemeList,
    SchemeVersions,
    ScorecardVerification,
)
from api.routers.performance import ScopeParam
from api.routing import Router
from domain.errors import InvalidInput, NotFound
from domain.partner import TrainingTopic
from domain.rep import Rep
from domain.target import parse_scope
from projections.assessments import READ_MODELS

router = Router(tags=["assessment and training"])
PLAN_READS = ("org", "assessments")


class ImprovementPlanBody(Body):
    period: str = Field(examples=["2026-Q1"])
    causes: Text
    actions: str = Field(min_length=1, max_length=4000)
    due_on: SaneDate
    manager_id: str | None = Field(
        default=None,
        max_length=200,
        description="the manager above the rep (default: the rep's manager; a manager's key: their own id)",
    )


class PlanDone(Body):
    on: SaneDate
    outcome: str | None = Field(default=None, max_length=4000)


class Audience(Body):
    levels: list[str] = Field(default_factory=list, max_length=10)
    teams: list[Text] = Field(default_factory=list, max_length=100)
    partner_id: str | None = Field(default=None, max_length=200)


class Programme(Body):
    name: Text
    topic: str = Field(examples=[t.value for t in TrainingTopic])
    required_hours: Amount = Field(examples=["16"])
    due_by: SaneDate
    audience: Audience | None = None


# -- schemes ---------------------------------------------------------------------------------------
@router.post("/assessments/schemes", dependencies=[Allow(OPERATIONS)], status_code=201, response_model=Receipt)
def create_scheme(body: dict[str, Any], rt: RuntimeDep, meta: MetaDep):
    """An assessment scheme: name, period (month, quarter, year), effective_from, applies_to
    (levels, teams, partner_id; all reps when absent), indicators (key, source, weight, zero_at,
    full_at, cap) with weights summing to exactly 1, and grades by min_score. Answers version 1."""
    return answer(rt, rt.ledger.assessments.create_scheme(meta, body), 201)


@router.post(
    "/assessments/schemes/{scheme_id}/versions",
    dependencies=[Allow(OPERATIONS)],
    status_code=201,
    response_model=Receipt,
)
def version_scheme(scheme_id: str, body: dict[str, Any], rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """A new version with a later effective_from: periods ending from then on are assessed under it."""
    return answer(rt, rt.ledger.assessments.version_scheme(meta, scheme_id, body, expected_version=version), 201)


@router.get("/assessments/schemes", dependencies=[Allow(EVERYONE)], response_model=SchemeList)
def schemes(request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """Every scheme at its newest version."""
    await_position(request, "assessments", min_position)
    return Json(rt.ledger.assessments.schemes())


@router.get("/assessments/schemes/{scheme_id}", dependencies=[Allow(EVERYONE)], response_model=SchemeVersions)
def scheme(scheme_id: str, rt: RuntimeDep):
    """The scheme with every version."""
    return Json(rt.ledger.assessments.scheme(scheme_id))


# -- scorecards ------------------------------------------------------------------------------------
@router.get("/assessments/{period}", dependencies=[Allow(EVERYONE)], response_model=PeriodScorecards)
def period_scorecards(
    period: str,
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    scope: ScopeParam = "company",
    scheme_id: FilterText = None,
    min_position: MinPosition = None,
):
    """Each rep's score, grade and indicator points for the period (YYYY-MM, YYYY-Qn, YYYY):
    live while the period is not finalized, frozen once it is. Scope company, region:X, team:Y
    or partner:ID; reps and managers see the reps they may see."""
    scope = parse_scope(scope)
    if scope != "company":
        access.scope(scope)
    await_position(request, READ_MODELS, min_position)
    return Json(rt.ledger.assessments.period_scorecards(period, scope=scope, scheme_id=scheme_id, visible=access.reps))


@router.post("/assessments/{period}/finalize", dependencies=[Allow(OPERATIONS)])
def finalize(period: str, rt: RuntimeDep, meta: MetaDep, body: dict[str, Any] | None = None):
    """Freeze the period's scorecards as events, a digest per rep (409 `period_not_ended` while
    its last day is today or later, `already_finalized` when done before). Later facts never
    edit a frozen scorecard."""
    if body:
        raise InvalidInput(f"unknown field {sorted(body)[0]}", field=sorted(body)[0])
    return answer(rt, rt.ledger.assessments.finalize(meta, period))


@router.get(
    "/reps/{rep_id}/assessments/{period}",
    dependencies=[Allow(EVERYONE, scope=Record(Rep))],
    response_model=RepScorecards,
)
def rep_scorecard(rep_id: str, period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """The rep's scorecard(s) for the period, each value with what it was read from (KPI figures
    and target, collection figures, feedback, the review event); a missing input scores 0 and
    says so. With the rep's improvement plans of the period."""
    await_position(request, READ_MODELS, min_position)
    return Json(rt.ledger.assessments.rep_scorecards(rep_id, period))


@router.get(
    "/reps/{rep_id}/assessments/{period}/verify",
    dependencies=[Allow(EVERYONE, scope=Record(Rep))],
    response_model=ScorecardVerification,
)
def verify(rep_id: str, period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """Recompute the rep's finalized scorecards from their frozen inputs and compare digests;
    list what the read models say now where it differs (notes, never edits)."""
    await_position(request, READ_MODELS, min_position)
    return Json(rt.ledger.assessments.verify(rep_id, period))


# -- improvement plans ------------------------------------------------------------------------------
@router.post(
    "/reps/{rep_id}/improvement-plans",
    dependencies=[Allow(MANAGEMENT, scope=Record(Rep))],
    status_code=201,
    response_model=Receipt,
)
def record_improvement_plan(rep_id: str, body: ImprovementPlanBody, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """改善对策 for a rep below expectation: causes, actions and a due date, by a manager above
    the rep (409 `manager_not_allowed` otherwise); a manager records in their own name, an
    admin in the name of `manager_id`, by default the rep's manager."""
    access.not_own(rep_id)
    fields = body.model_dump()
    if access.role == MANAGER:
        fields["manager_id"] = fields["manager_id"] or access.principal.rep_id
        access.myself(fields["manager_id"], "manager_id")
    return answer(rt, rt.ledger.assessments.record_improvement_plan(meta, rep_id, **fields), 201)


@router.post("/improvement-plans/{improvement_plan_id}/done", dependencies=[Allow(MANAGEMENT)], response_model=Receipt)
def improvement_plan_done(improvement_plan_id: str, body: PlanDone, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """The improvement plan carried out (409 `already_done` the second time)."""
    plan_id = improvement_plan_id
    rep = rt.ledger.assessments.improvement_plan_rep(plan_id)
    if not access.sees_rep(rep) or (access.role == MANAGER and rep == access.principal.rep_id):
        raise NotFound(f"no improvementplan with id {plan_id}", kind="improvementplan", id=plan_id)
    return answer(rt, rt.ledger.assessments.complete_improvement_plan(meta, plan_id, **body.model_dump()))


@router.get("/improvement-plans", dependencies=[Allow(EVERYONE)], response_model=ImprovementPlanList)
def improvement_plans(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    status: FilterText = None,
    manager_id: FilterText = None,
    min_position: MinPosition = None,
):
    """Improvement plans by status (open, overdue: not done by the due date, done); with
    `manager_id`, those of the reps below that manager."""
    if manager_id is not None:
        access.rep(manager_id, "manager_id")
    await_position(request, PLAN_READS, min_position)
    return Json(rt.ledger.assessments.improvement_plans(status=status, manager_id=manager_id, visible=access.reps))


# -- training programmes ----------------------------------------------------------------------------
@router.post("/trainings/programmes", dependencies=[Allow(MANAGEMENT)], status_code=201, response_model=Receipt)
def create_programme(body: Programme, rt: RuntimeDep, meta: MetaDep):
    """A training programme: hours of a topic (product, sales_skills, service, compliance) each
    rep of the audience (levels, teams, partner; everyone when absent) must complete by `due_by`."""
    fields = body.model_dump()
    return answer(rt, rt.ledger.assessments.create_programme(meta, **fields), 201)


@router.get("/trainings/programmes/{programme_id}", dependencies=[Allow(EVERYONE)], response_model=ProgrammeReport)
def programme(
    programme_id: str,
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    min_position: MinPosition = None,
    status: str | None = Query(None, pattern="^(complete|short)$", description="only complete or short reps"),
):
    """Each rep of the audience with the hours of the topic done by the due date (inclusive),
    `complete` and `short_by`; counts of complete and short reps. Reps and managers see the reps
    they may see."""
    await_position(request, ("org", "staff", "assessments"), min_position)
    report = rt.ledger.assessments.programme_report(programme_id)
    reps = [r for r in report["items"] if access.sees_rep(r["rep_id"])]
    if status is not None:
        reps = [r for r in reps if r["complete"] == (status == "complete")]
    report = {**report, "items": reps}
    report["complete"] = sum(1 for r in reps if r["complete"])
    report["short"] = sum(1 for r in reps if not r["complete"])
    return Json(report)
