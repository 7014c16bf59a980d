"""Channel partners (渠道): distributors, agents and resellers, and their scorecards."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Query, Request
from pydantic import Field

from api.access import EVERYONE, MANAGEMENT, AccessDep, Allow
from api.deps import MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.listing import Cursor, Limit
from api.models import Body, DateField, FilterText, Receipt, Text
from api.responses.partners import PartnerPage, PartnerScorecard
from api.routing import Router
from application import clock
from domain.partner import PartnerKind
from domain.values import Period
from projections.partners import scorecard
from projections.staff import list_partners

router = Router(prefix="/partners", tags=["channel staff"])

PeriodParam = Annotated[
    str | None, Query(max_length=10, description="YYYY-MM, YYYY-Qn or YYYY; defaults to this month")
]


class RegisterPartner(Body):
    name: Text
    kind: str = Field(examples=[k.value for k in PartnerKind])
    region: Text
    registered_on: DateField = None


@router.post("", dependencies=[Allow(MANAGEMENT)], status_code=201, response_model=Receipt)
def register_partner(body: RegisterPartner, rt: RuntimeDep, meta: MetaDep):
    """Register a channel partner: a distributor, an agent or a reseller. Its staff are the reps
    hired into it or transferred to it (`partner_id` on `POST /reps` and `/reps/{id}/transfer`)."""
    return answer(rt, rt.ledger.partners.register_partner(meta, **body.model_dump()), 201)


@router.get("", dependencies=[Allow(EVERYONE)], response_model=PartnerPage)
def partners(
    request: Request,
    rt: RuntimeDep,
    kind: FilterText = None,
    region: FilterText = None,
    after: Cursor = None,
    limit: Limit = 50,
    min_position: MinPosition = None,
):
    """Partners by id, filtered by `kind` and `region`; `next` is the cursor (pass it as `after`)."""
    await_position(request, "staff", min_position)
    with rt.db.read() as tx:
        return Json(list_partners(tx, after=after, limit=limit, kind=kind, region=region))


@router.get("/{partner_id}", dependencies=[Allow(EVERYONE)], response_model=PartnerScorecard)
def partner_scorecard(
    partner_id: str,
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    period: PeriodParam = None,
    min_position: MinPosition = None,
):
    """The partner's scorecard for `period` (default this month): its staff on the period's last
    day (today while it runs), revenue and collections against the partner's targets (scope
    `partner:ID`), every KPI, training hours by topic, each staff member's latest review and the
    recognitions of the period. Managers see the partners whose staff all report to them."""
    partner_id = _canonical(partner_id)
    access.scope(f"partner:{partner_id}", "partner_id")
    today = clock.today()
    span = Period.parse(period) if period is not None else Period.month_of(today)
    await_position(request, ("org", "kpi", "accounts", "targets", "staff"), min_position)
    with rt.db.read() as tx:
        return Json(scorecard(tx, partner_id, period=span, day=min(span.end, max(today, span.start))))


def _canonical(partner_id: str) -> str:
    """The partner id as stored, whatever UUID spelling it arrives in (unknown text as given)."""
    try:
        return str(UUID(partner_id))
    except ValueError:
        return partner_id
