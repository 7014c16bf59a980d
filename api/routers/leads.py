"""Leads: capture with de-duplication, scoring, assignment, the pool, follow-up SLA and
outcomes; queues and reports."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import Field

from api.access import (
    ADMIN,
    AUDITOR,
    EVERYONE,
    FIELD_WORK,
    LEAD_READERS,
    MANAGEMENT,
    MANAGER,
    OPERATIONS,
    AccessDep,
    Allow,
    Record,
)
from api.deps import IfMatch, MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.history import aggregate_history, record_routes
from api.models import (
    Amount,
    Body,
    FilterText,
    OptionalText,
    Position,
    Receipt,
    SaneMoment,
    Text,
    Today,
)
from api.responses.leads import (
    LeadPage,
    LeadPolicy,
    LeadQueue,
    LeadSlaReport,
    LeadSourceReport,
    LeadTimeline,
    ScheduledChecks,
)
from api.routing import Router
from application.leads import CheckSla
from domain.customer import Customer
from domain.lead import Lead
from domain.rep import Rep
from domain.values import Period
from infrastructure.scheduler import status as scheduled_status
from projections.leads import list_leads, sla_report, source_effectiveness

router = Router(prefix="/leads", tags=["leads"])


Moment = Annotated[SaneMoment | None, Field(default=None, description="ISO date-time; defaults to now")]


class CaptureLead(Body):
    company: Text
    source: str
    region: Text
    industry: Text
    contact_name: OptionalText = None
    phone: OptionalText = None
    email: OptionalText = None
    wechat_id: OptionalText = None
    size_band: OptionalText = None
    product_line: OptionalText = None
    notes: OptionalText = None
    captured_on: Today


class ScoreLead(Body):
    need_match: int
    purchasing_power: int
    decision_complexity: int = Field(description="0 (simple decision chain) to 5 (complex)")


class AssignLead(Body):
    rep_id: OptionalText = None
    reason: OptionalText = None
    assigned_at: Moment = None


class ClaimLead(Body):
    rep_id: Text
    claimed_at: Moment = None


class ReturnLead(Body):
    reason: Text
    returned_at: Moment = None


class Contact(Body):
    channel: str
    outcome: Text
    occurred_at: SaneMoment
    notes: OptionalText = None


class Qualify(Body):
    notes: OptionalText = None
    qualified_on: Today


class Disqualify(Body):
    reason: Text
    notes: OptionalText = None
    disqualified_on: Today


class Convert(Body):
    customer_id: OptionalText = None
    amount: Amount = "0.00"
    product_line: OptionalText = None
    title: OptionalText = None
    currency: str | None = Field(default=None, max_length=3)
    converted_on: Today


class Merge(Body):
    into: Text
    reason: Text


class SlaCheck(Body):
    as_of: Moment = None


class Policy(Body):
    settings: dict[str, Any]
    reason: Text


@router.post("", dependencies=[Allow(FIELD_WORK)], status_code=201, response_model=Receipt)
def capture_lead(body: CaptureLead, rt: RuntimeDep, meta: MetaDep):
    """Capture a lead. An open lead with the same normalised phone or email, or the same
    normalised company in the same region, makes this one a recorded duplicate (`duplicate_of`)."""
    return answer(rt, rt.ledger.leads.capture_lead(meta, **body.model_dump()), 201)


@router.get("", dependencies=[Allow(LEAD_READERS)], response_model=LeadPage)
def leads(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    assignee_id: FilterText = None,
    status: FilterText = None,
    grade: FilterText = None,
    region: FilterText = None,
    source: FilterText = None,
    industry: FilterText = None,
    product_line: FilterText = None,
    external_id: FilterText = None,
    after: Position = 0,
    limit: int = Query(50, ge=1, le=500),
    min_position: MinPosition = None,
):
    """Leads in capture order; `next` is the cursor (pass it as `after`). Reps and managers see
    the leads they and the reps below them hold, and the pool. `external_id`: the lead an import
    brought in under that id."""
    await_position(request, "leads", min_position)
    with rt.db.read() as tx:
        return Json(
            list_leads(
                tx,
                after=after,
                limit=limit,
                visible_to=access.reps,
                assignee_id=assignee_id,
                status=status,
                grade=grade,
                region=region,
                source=source,
                industry=industry,
                product_line=product_line,
                external_id=external_id,
            )
        )


@router.get("/pool", dependencies=[Allow(LEAD_READERS)], response_model=LeadPage)
def pool(
    request: Request,
    rt: RuntimeDep,
    region: FilterText = None,
    industry: FilterText = None,
    grade: FilterText = None,
    source: FilterText = None,
    product_line: FilterText = None,
    size_band: FilterText = None,
    after: Position = 0,
    limit: int = Query(50, ge=1, le=500),
    min_position: MinPosition = None,
):
    """The pool (公海): open leads nobody holds, with filters."""
    await_position(request, "leads", min_position)
    with rt.db.read() as tx:
        return Json(
            list_leads(
                tx,
                pool=True,
                after=after,
                limit=limit,
                region=region,
                industry=industry,
                grade=grade,
                source=source,
                product_line=product_line,
                size_band=size_band,
            )
        )


@router.get("/queue/{rep_id}", dependencies=[Allow(LEAD_READERS, scope=Record(Rep))], response_model=LeadQueue)
def rep_queue(
    rep_id: str, request: Request, rt: RuntimeDep, as_of: SaneMoment | None = None, min_position: MinPosition = None
):
    """A rep's open leads, most urgent first, with age, next follow-up due and SLA state."""
    await_position(request, "leads", min_position)
    return Json(rt.ledger.leads.queue(rep_id, as_of=as_of))


@router.get("/reports/sla", dependencies=[Allow(MANAGER, AUDITOR, ADMIN)], response_model=LeadSlaReport)
def sla(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    period: str,
    group_by: str = "rep",
    min_position: MinPosition = None,
):
    """First-response hours (median, p90) and breach counts per rep, team or grade."""
    await_position(request, ("leads", "org"), min_position)
    with rt.db.read() as tx:
        return Json(sla_report(tx, period=Period.parse(period), group_by=group_by, reps=access.reps))


@router.get("/reports/sources", dependencies=[Allow(MANAGER, AUDITOR, ADMIN)], response_model=LeadSourceReport)
def sources(request: Request, rt: RuntimeDep, access: AccessDep, period: str, min_position: MinPosition = None):
    """Per source: leads captured in the period, qualified, converted, won revenue and rates."""
    await_position(request, "leads", min_position)
    with rt.db.read() as tx:
        return Json(source_effectiveness(tx, period=Period.parse(period), reps=access.reps))


@router.get("/policy", dependencies=[Allow(EVERYONE)], response_model=LeadPolicy)
def get_policy(rt: RuntimeDep):
    """The lead policy in force: scoring model, grade→level map, rules, caps, SLA, pool, reasons."""
    policy = rt.ledger.leads.lead_policy()
    return Json(
        {
            "version": policy.version,
            "label": policy.label,
            "model_version": policy.model_version,
            "settings": policy.settings,
        }
    )


@router.put("/policy", dependencies=[Allow(OPERATIONS)], response_model=Receipt)
def put_policy(body: Policy, rt: RuntimeDep, meta: MetaDep):
    """Replace the lead policy (a new version; a changed scoring part is a new scoring model)."""
    return answer(rt, rt.ledger.leads.configure_lead_policy(meta, settings=body.settings, reason=body.reason))


@router.post("/sla-check", dependencies=[Allow(OPERATIONS)])
def sla_check(body: SlaCheck, rt: RuntimeDep, meta: MetaDep):
    """Record SLA breaches due at `as_of` (default now; a future moment is refused) and apply
    the policy's action. Idempotent; also `salesledger leads sla-check`."""
    result = rt.ledger.leads.check_sla(CheckSla(as_of=body.as_of), meta)
    rt.written()
    return Json(asdict(result))


@router.get("/scheduled-checks", dependencies=[Allow(EVERYONE)], response_model=ScheduledChecks)
def scheduled_checks(rt: RuntimeDep):
    """The checks `salesledger project` runs by itself (the lead SLA check, the customer dormancy
    and revisit checks): per check its schedule (`off` when not scheduled), the last moment
    checked, when that run started and finished and what it found, the next run, and the last
    error with the number of failures in a row (0 once a run succeeds again)."""
    return Json({"items": scheduled_status(rt.db)})


@router.post("/{lead_id}/score", dependencies=[Allow(FIELD_WORK, scope=Record(Lead))], response_model=Receipt)
def score_lead(lead_id: str, body: ScoreLead, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(rt, rt.ledger.leads.score_lead(meta, lead_id, **body.model_dump(), expected_version=version))


@router.post("/{lead_id}/assign", dependencies=[Allow(MANAGEMENT, scope=Record(Lead))], response_model=Receipt)
def assign_lead(lead_id: str, body: AssignLead, rt: RuntimeDep, meta: MetaDep, version: IfMatch, access: AccessDep):
    """`{}` applies the rules (grade → level, least loaded, round-robin, caps); `rep_id` + `reason`
    assigns by hand (a manager, to someone in their part of the tree)."""
    access.rep(body.rep_id)
    return answer(rt, rt.ledger.leads.assign_lead(meta, lead_id, **body.model_dump(), expected_version=version))


@router.post("/{lead_id}/claim", dependencies=[Allow(FIELD_WORK, scope=Record(Lead))], response_model=Receipt)
def claim(lead_id: str, body: ClaimLead, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """Take a lead from the pool (a rep for themselves, a manager for a rep below them)."""
    access.rep(body.rep_id)
    return answer(rt, rt.ledger.leads.claim_lead(meta, lead_id, **body.model_dump()))


@router.post("/{lead_id}/return", dependencies=[Allow(FIELD_WORK, scope=Record(Lead))], response_model=Receipt)
def return_lead(lead_id: str, body: ReturnLead, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(rt, rt.ledger.leads.return_lead(meta, lead_id, **body.model_dump(), expected_version=version))


@router.post(
    "/{lead_id}/contacts", dependencies=[Allow(FIELD_WORK, scope=Record(Lead))], status_code=201, response_model=Receipt
)
def contact(lead_id: str, body: Contact, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(
        rt, rt.ledger.leads.log_lead_contact(meta, lead_id, **body.model_dump(), expected_version=version), 201
    )


@router.post("/{lead_id}/qualify", dependencies=[Allow(FIELD_WORK, scope=Record(Lead))], response_model=Receipt)
def qualify(lead_id: str, body: Qualify, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(rt, rt.ledger.leads.qualify_lead(meta, lead_id, **body.model_dump(), expected_version=version))


@router.post("/{lead_id}/disqualify", dependencies=[Allow(FIELD_WORK, scope=Record(Lead))], response_model=Receipt)
def disqualify(lead_id: str, body: Disqualify, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """The reason must come from the policy's list (`GET /leads/policy`)."""
    return answer(rt, rt.ledger.leads.disqualify_lead(meta, lead_id, **body.model_dump(), expected_version=version))


@router.post("/{lead_id}/convert", dependencies=[Allow(FIELD_WORK, scope=Record(Lead))], response_model=Receipt)
def convert(lead_id: str, body: Convert, rt: RuntimeDep, meta: MetaDep, version: IfMatch, access: AccessDep):
    """Create the customer (or link `customer_id`) and open a deal owned by the lead's rep."""
    if body.customer_id:
        access.record(Customer, body.customer_id)
    return answer(rt, rt.ledger.leads.convert_lead(meta, lead_id, **body.model_dump(), expected_version=version))


@router.post("/{lead_id}/merge", dependencies=[Allow(MANAGEMENT, scope=Record(Lead))], response_model=Receipt)
def merge(lead_id: str, body: Merge, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """Fold this lead into `into`, which keeps any contact details it lacked."""
    access.record(Lead, body.into)
    return answer(rt, rt.ledger.leads.merge_leads(meta, lead_id, into=body.into, reason=body.reason))


@router.get("/{lead_id}/timeline", dependencies=[Allow(LEAD_READERS, scope=Record(Lead))], response_model=LeadTimeline)
def timeline(lead_id: str, rt: RuntimeDep):
    """The lead's full timeline (the same as its history)."""
    return aggregate_history(rt, Lead, lead_id)


record_routes(
    router,
    Lead,
    read=Allow(LEAD_READERS, scope=Record(Lead, "record_id")),
    forget=Allow(OPERATIONS, scope=Record(Lead, "record_id")),
)
