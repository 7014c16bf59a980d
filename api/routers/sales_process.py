"""From proposal to delivery: delivery milestones across deals, the win rate by number of
proposals and the competitors we meet (the deal commands themselves are under /deals)."""

from __future__ import annotations

from fastapi import Query, Request

from api.access import EVERYONE, AccessDep, Allow
from api.deps import MinPosition, RuntimeDep, await_position
from api.encoding import Json
from api.models import FilterText, SaneDate
from api.responses.sales_process import CompetitorReport, DeliveryList, ProposalWinRates
from api.routing import Router
from application import clock
from projections.deal_analytics import DEAL_ANALYTICS, competitor_report, win_rate_by_proposals
from projections.deliveries import DELIVERIES, list_deliveries

router = Router(tags=["sales process"])


@router.get("/deliveries", dependencies=[Allow(EVERYONE)], response_model=DeliveryList)
def deliveries(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    status: str | None = Query(None, max_length=20, description="overdue, open (not done, not overdue) or done"),
    owner_id: FilterText = None,
    manager_id: FilterText = None,
    customer_id: FilterText = None,
    as_of: SaneDate | None = Query(None, description="the day overdue is judged on; default today"),
    min_position: MinPosition = None,
):
    """Delivery milestones of won deals by planned date. Overdue: planned before today (the
    organisation's date, SALESLEDGER_TIMEZONE) and not done. `manager_id`: the deals owned in that
    manager's subtree today. Managers and reps see the deals they and the reps below them own."""
    await_position(request, DELIVERIES.name, min_position)
    today = as_of or clock.today()
    owners = access.reps
    if manager_id is not None:
        access.rep(manager_id, "manager_id")
        subtree = rt.directory.subtree(access.canonical(manager_id), today)
        owners = subtree if owners is None else owners & subtree
    with rt.db.read() as tx:
        found = list_deliveries(
            tx, today=today, status=status, owner_id=owner_id, owners=owners, customer_id=customer_id
        )
    return Json(found)


@router.get("/pipeline/proposals", dependencies=[Allow(EVERYONE)], response_model=ProposalWinRates)
def proposals(
    request: Request, rt: RuntimeDep, access: AccessDep, owner_id: FilterText = None, min_position: MinPosition = None
):
    """Deals by the number of proposals sent on them: open, won, lost and the win rate."""
    await_position(request, DEAL_ANALYTICS.name, min_position)
    with rt.db.read() as tx:
        return Json(win_rate_by_proposals(tx, owners=access.reps, owner_id=owner_id))


@router.get("/competitors", dependencies=[Allow(EVERYONE)], response_model=CompetitorReport)
def competitors(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    limit: int = Query(100, ge=1, le=500),
    min_position: MinPosition = None,
):
    """Competitors in play across deals (from the negotiation picture and losses), most met
    first, with our wins, losses and win rate against each."""
    await_position(request, DEAL_ANALYTICS.name, min_position)
    with rt.db.read() as tx:
        return Json(competitor_report(tx, owners=access.reps, limit=limit))
