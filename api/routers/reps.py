from __future__ import annotations

from fastapi import Query, Request
from pydantic import Field

from api.access import EVERYONE, MANAGEMENT, MANAGER, AccessDep, Allow, Record
from api.deps import IfMatch, MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.history import record_routes
from api.listing import Cursor, Limit
from api.models import Amount, Body, DateField, FilterText, OptionalText, Receipt, SaneDate, Text
from api.routing import Router
from api.schemas import RepPage
from application import clock
from domain.rep import Rep
from projections.org import list_reps

router = Router(prefix="/reps", tags=["reps"])


class HireRep(Body):
    name: Text
    level: str
    team: Text
    region: Text
    manager_id: str | None = None
    hired_on: DateField = None
    partner_id: OptionalText = None


class ChangeLevel(Body):
    level: str
    effective_from: SaneDate
    reason: Text


class Transfer(Body):
    team: OptionalText = None
    region: OptionalText = None
    manager_id: OptionalText = None
    partner_id: OptionalText = Field(None, description="a channel partner; null: the organisation's own staff")
    effective_from: SaneDate
    reason: Text


class Leave(Body):
    effective_on: SaneDate
    reason: Text
    reassign_to: OptionalText = None


class RepTarget(Body):
    period: str
    metric: str
    value: Amount
    reason: OptionalText = None


@router.get("", dependencies=[Allow(EVERYONE)], response_model=RepPage)
def reps(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    team: FilterText = None,
    region: FilterText = None,
    level: FilterText = None,
    status: FilterText = None,
    manager_id: FilterText = None,
    external_id: FilterText = None,
    partner_id: FilterText = None,
    as_of: SaneDate | None = Query(None, description="the organisation on this day; defaults to today"),
    after: Cursor = None,
    limit: Limit = 50,
    min_position: MinPosition = None,
):
    """Reps as they stood on `as_of` (level, team, region, manager, status active | left), by id;
    `next` is the cursor (pass it as `after`). Managers see their part of the tree, reps themselves."""
    await_position(request, "org", min_position)
    with rt.db.read() as tx:
        page = list_reps(
            tx,
            day=as_of or clock.today(),
            after=after,
            limit=limit,
            visible_to=access.reps,
            team=team,
            region=region,
            level=level,
            status=status,
            manager_id=manager_id,
            external_id=external_id,
            partner_id=partner_id,
        )
    return Json(page)


@router.post("", dependencies=[Allow(MANAGEMENT)], status_code=201, response_model=Receipt)
def hire_rep(body: HireRep, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """Hire a rep (junior, mid, senior), a manager or a director. A manager hires into their own
    part of the tree (under themselves unless `manager_id` names someone below them)."""
    if access.role == MANAGER:
        body.manager_id = body.manager_id or access.principal.rep_id
    access.rep(body.manager_id, "manager_id")
    return answer(rt, rt.ledger.org.hire_rep(meta, **body.model_dump()), 201)


@router.post("/{rep_id}/level", dependencies=[Allow(MANAGEMENT, scope=Record(Rep))], response_model=Receipt)
def change_level(rep_id: str, body: ChangeLevel, rt: RuntimeDep, meta: MetaDep, version: IfMatch, access: AccessDep):
    """Promote or demote, effective from a business date (may be back-dated)."""
    access.not_own(rep_id)
    return answer(rt, rt.ledger.org.change_rep_level(meta, rep_id, **body.model_dump(), expected_version=version))


@router.post("/{rep_id}/transfer", dependencies=[Allow(MANAGEMENT, scope=Record(Rep))], response_model=Receipt)
def transfer(rep_id: str, body: Transfer, rt: RuntimeDep, meta: MetaDep, version: IfMatch, access: AccessDep):
    """Move to another team, region, manager or channel partner (`partner_id`; null: back to the
    organisation's own staff); omitted fields stay as they were."""
    access.not_own(rep_id)
    access.rep(body.manager_id, "manager_id")
    fields = body.model_dump(exclude=set() if "partner_id" in body.model_fields_set else {"partner_id"})
    return answer(rt, rt.ledger.org.transfer_rep(meta, rep_id, **fields, expected_version=version))


@router.post("/{rep_id}/leave", dependencies=[Allow(MANAGEMENT, scope=Record(Rep))], response_model=Receipt)
def leave(rep_id: str, body: Leave, rt: RuntimeDep, meta: MetaDep, version: IfMatch, access: AccessDep):
    """The rep leaves. Their customers and direct reports go to `reassign_to` in the same write;
    without it, 409 lists what must be reassigned first."""
    access.not_own(rep_id)
    access.rep(body.reassign_to, "reassign_to")
    return answer(rt, rt.ledger.org.rep_leaves(meta, rep_id, **body.model_dump(), expected_version=version))


@router.post(
    "/{rep_id}/targets", dependencies=[Allow(MANAGEMENT, scope=Record(Rep))], status_code=201, response_model=Receipt
)
def set_rep_target(rep_id: str, body: RepTarget, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """The rep's target for a period (YYYY-MM, YYYY-Qn, YYYY) and metric."""
    access.not_own(rep_id)
    return answer(rt, rt.ledger.targets.set_target(meta, scope=f"rep:{rep_id}", **body.model_dump()), 201)


record_routes(router, Rep, read=Allow(EVERYONE, scope=Record(Rep, "record_id")))
