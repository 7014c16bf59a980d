"""Metrics served by pluggable projections (any projection that defines `query`)."""

from __future__ import annotations

from fastapi import Request

from api.access import EVERYONE, OVERSIGHT, Allow
from api.deps import OPEN_QUERY, MinPosition, RuntimeDep, await_position
from api.encoding import Json
from api.responses.metrics import MetricAnswer, MetricInfo
from api.routing import Router
from domain.errors import NotFound
from projections.engine.tracking import active_tables

router = Router(prefix="/metrics", tags=["metrics"])


@router.get("", dependencies=[Allow(EVERYONE)], response_model=list[MetricInfo])
def list_metrics(rt: RuntimeDep):
    """The projections that answer queries, with their documentation."""
    return Json(
        [
            {"name": p.name, "version": p.version, "description": (type(p).query.__doc__ or "").strip()}
            for p in rt.projections
            if p.queryable
        ]
    )


@router.get("/{name}", dependencies=[Allow(OVERSIGHT)], openapi_extra={OPEN_QUERY: True}, response_model=MetricAnswer)
def metric(name: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """Ask a metric projection; query parameters other than `min_position` are passed to it."""
    projection = next((p for p in rt.projections if p.name == name and p.queryable), None)
    if projection is None:
        raise NotFound(f"no metric named {name}", kind="metric", id=name)
    await_position(request, name, min_position)
    params = {k: v for k, v in request.query_params.items() if k != "min_position"}
    with rt.db.read() as tx:
        return Json(projection.query(tx, active_tables(tx, projection), params))
