"""Read-model queries and the engine's own status."""

from __future__ import annotations

from fastapi import Query, Request

from api.access import EVERYONE, OPERATIONS, OVERSIGHT, AccessDep, Allow
from api.deps import MinPosition, RuntimeDep, await_position
from api.encoding import Json
from api.models import DisplayCurrency, FilterText, SaneDate
from api.responses.reads import DeadLetters, PipelineBoard, ProjectionStatus, ReceivablesReport
from api.routing import Router
from application import clock
from domain.errors import NotFound
from domain.values import Period
from domain.values import currency as parse_currency
from projections.accounts import receivables
from projections.engine.runner import retry_parked, status
from projections.engine.tracking import dead_letters
from projections.pipeline import PIPELINE, pipeline_board

router = Router(tags=["read models"])


@router.get("/pipeline", dependencies=[Allow(EVERYONE)], response_model=PipelineBoard)
def pipeline(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    team: FilterText = None,
    region: FilterText = None,
    owner_id: FilterText = None,
    product_line: FilterText = None,
    currency: str | None = Query(
        None, max_length=3, description="only this currency's deals, in its amounts (default: all, in base currency)"
    ),
    period: str | None = Query(None, description="only deals opened in this period"),
    as_of: SaneDate | None = Query(
        None, description="place open deals' owners in the org as of this date (default today)"
    ),
    display_currency: DisplayCurrency = None,
    min_position: MinPosition = None,
):
    """Open deals per stage (count, amount, probability-weighted amount), won/lost totals, win
    rate, loss reasons, stage conversion, stage velocity and the weighted forecast by expected
    close month. `team` and `region` filter on the owner's team and region on each deal's date (signed
    or lost; `as_of`, default today, for open deals), from the org timeline; `period` keeps deals opened in it.
    Reps and managers see the deals owned by themselves and the reps below them."""
    await_position(request, (PIPELINE.name, "org", "fx"), min_position)
    with rt.db.read() as tx:
        board = pipeline_board(
            tx,
            currency=parse_currency(currency) if currency else None,
            period=Period.parse(period) if period else None,
            team=team,
            region=region,
            owner_id=owner_id,
            product_line=product_line,
            owners=access.reps,
            as_of=as_of or clock.today(),
            display=display_currency,
        )
    return Json(board)


@router.get("/projections", dependencies=[Allow(EVERYONE)], response_model=list[ProjectionStatus])
def projections(rt: RuntimeDep):
    """Per projection: position, store head, lag in events, state and the last error."""
    return Json(status(rt.db, rt.source, rt.projections))


@router.get("/receivables", dependencies=[Allow(EVERYONE)], response_model=ReceivablesReport)
def receivables_report(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    period: str,
    group_by: str = "rep",
    as_of: SaneDate | None = None,
    display_currency: DisplayCurrency = None,
    min_position: MinPosition = None,
):
    """Collection rate (回款率) of deals signed in the period per owner or team, and every
    receivable overdue at `as_of` (default today), in base currency (or `display_currency`)."""
    await_position(request, ("accounts", "org", "fx"), min_position)
    with rt.db.read() as tx:
        report = receivables(
            tx,
            period=Period.parse(period),
            as_of=as_of or clock.today(),
            group_by=group_by,
            owners=access.reps,
            display=display_currency,
        )
    return Json(report)


@router.get("/projections/{name}/dead-letters", dependencies=[Allow(OVERSIGHT)], response_model=DeadLetters)
def projection_dead_letters(name: str, rt: RuntimeDep):
    """Events a projection (with on_error = park) set aside: position, type, error, traceback, status."""
    if name not in {p.name for p in rt.projections}:
        raise NotFound(f"no projection named {name}", kind="projection", id=name)
    with rt.db.read() as tx:
        return Json({"projection": name, "items": dead_letters(tx, name)})


@router.post("/projections/{name}/dead-letters/retry", dependencies=[Allow(OPERATIONS)])
def retry_dead_letters(name: str, rt: RuntimeDep, position: int | None = Query(None, ge=1)):
    """Apply parked events again (after a fix is deployed); those still failing stay parked."""
    projection = next((p for p in rt.projections if p.name == name), None)
    if projection is None:
        raise NotFound(f"no projection named {name}", kind="projection", id=name)
    return Json(retry_parked(rt.db, rt.source, projection, position))
