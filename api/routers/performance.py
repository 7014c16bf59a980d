"""The organisation over time, KPIs against targets, and leaderboards."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request

from api.access import EVERYONE, AccessDep, Allow
from api.deps import MinPosition, RuntimeDep, await_position
from api.encoding import Json
from api.models import DisplayCurrency, SaneDate, SaneMoment
from api.responses.performance import KpiScorecard, Leaderboard, OrgChart
from api.routing import Router
from domain.target import parse_scope
from domain.values import SELLING_LEVELS, Level, Period
from projections.org import org_as_of
from projections.performance import kpis, leaderboard

router = Router(tags=["organisation and performance"])

ScopeParam = Annotated[
    str,
    Query(
        max_length=300,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="company, region:X, team:Y, rep:ID or partner:ID",
    ),
]
AsOfMoment = Annotated[SaneMoment | None, Query(description="what was known then (recording time, ISO)")]


@router.get("/org", dependencies=[Allow(EVERYONE)], response_model=OrgChart)
def org(request: Request, rt: RuntimeDep, as_of: SaneDate | None = None, min_position: MinPosition = None):
    """The hierarchy on a date (default today): director -> managers -> reps, with level duties."""
    await_position(request, "org", min_position)
    with rt.db.read() as tx:
        return Json(org_as_of(tx, as_of or date.today()))


@router.get("/kpis", dependencies=[Allow(EVERYONE)], response_model=KpiScorecard)
def kpi_scorecard(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    period: str,
    scope: ScopeParam = "company",
    as_of: AsOfMoment = None,
    display_currency: DisplayCurrency = None,
    min_position: MinPosition = None,
):
    """Actual vs target and attainment for every metric, plus collection rate, visits per working
    day, active customers by grade and product mix. Facts count in the period of their business
    date and in the team and region the rep belonged to on that date. Reps and managers ask for
    scopes within their part of the tree."""
    access.scope(scope)
    _known_partner(rt, scope)
    await_position(request, ("org", "kpi", "accounts", "targets", "revisits", "fx"), min_position)
    with rt.db.read() as tx:
        return Json(kpis(tx, scope=scope, period=Period.parse(period), as_of=as_of, display=display_currency))


@router.get("/leaderboards/{metric}", dependencies=[Allow(EVERYONE)], response_model=Leaderboard)
def leaderboards(
    metric: str,
    request: Request,
    rt: RuntimeDep,
    period: str,
    scope: ScopeParam = "company",
    limit: int = Query(10, ge=1, le=1000),
    levels: str | None = Query(
        None, max_length=100, description="levels to rank, comma-separated (default junior,mid,senior)"
    ),
    as_of: AsOfMoment = None,
    display_currency: DisplayCurrency = None,
    min_position: MinPosition = None,
):
    """Dense ranking of reps (junior, mid and senior unless `levels` says otherwise): ties share a
    rank and are listed by name. At most `limit` rows, plus everyone tied with the last row shown
    (a tie at zero is not extended). With attainment and the rank change against the previous
    period. `as_of` answers from what had been recorded by then."""
    _known_partner(rt, scope)
    ranked = SELLING_LEVELS if levels is None else tuple(Level.parse(v.strip(), "levels") for v in levels.split(","))
    await_position(request, ("org", "kpi", "targets", "fx"), min_position)
    with rt.db.read() as tx:
        board = leaderboard(
            tx,
            metric=metric,
            period=Period.parse(period),
            scope=scope,
            limit=limit,
            as_of=as_of,
            levels=ranked,
            display=display_currency,
        )
    return Json(board)


def _known_partner(rt: RuntimeDep, scope: str) -> None:
    """A `partner:ID` scope names a registered partner (404 naming `scope` otherwise)."""
    scope = parse_scope(scope)
    if scope.startswith("partner:"):
        rt.ledger.partners.partner(scope[8:], "scope")
