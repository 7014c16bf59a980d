"""SMART targets per period and metric, decomposed company -> regions -> teams -> reps."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.access import EVERYONE, MANAGEMENT, AccessDep, Allow
from api.deps import MetaDep, RuntimeDep, answer
from api.encoding import Json
from api.models import Amount, Body, OptionalText, Receipt, Text
from api.responses.targets import TargetSheetView
from api.routing import Router

router = Router(prefix="/targets", tags=["targets"])


class SetTarget(Body):
    scope: Text = Field(examples=["company", "region:华东", "team:华东一组", "rep:<id>"])
    period: str = Field(examples=["2026-11", "2026-Q4", "2026"])
    metric: str
    value: Amount
    reason: OptionalText = None


class Child(Body):
    scope: Text
    value: Amount


class Decompose(Body):
    period: str
    metric: str
    parent: Text
    children: Annotated[list[Child], Field(min_length=1, max_length=500)]
    reason: OptionalText = None


@router.post("", dependencies=[Allow(MANAGEMENT)], status_code=201, response_model=Receipt)
def set_target(body: SetTarget, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """Set one scope's target. Changing an existing one needs a reason; a decomposed target is
    changed with a new decomposition so that children keep summing to their parent. A manager
    sets targets within their part of the tree, never their own."""
    _within(access, body.scope)
    return answer(rt, rt.ledger.targets.set_target(meta, **body.model_dump()), 201)


@router.post("/decompose", dependencies=[Allow(MANAGEMENT)], response_model=Receipt)
def decompose(body: Decompose, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """Split a parent's target among its children (company -> region -> team -> rep); the
    children must sum exactly to the parent (409 otherwise)."""
    for scope in (body.parent, *(c.scope for c in body.children)):
        _within(access, scope)
    fields = body.model_dump()
    return answer(rt, rt.ledger.targets.decompose_target(meta, **fields))


@router.get("/{period}/{metric}", dependencies=[Allow(EVERYONE)], response_model=TargetSheetView)
def target_sheet(period: str, metric: str, rt: RuntimeDep, access: AccessDep):
    """Every scope's target for a period and metric, the decomposition tree and its history
    (reps and managers: the scopes within their part of the tree)."""
    sheet = rt.ledger.targets.sheet(period, metric)
    seen = access.sees_scope
    return Json(
        {
            "period": sheet.period,
            "metric": sheet.metric,
            "version": sheet.version,
            "targets": [{"scope": s, "value": v} for s, v in sheet.targets.items() if seen(s)],
            "decompositions": [{"parent": p, "children": c} for p, c in sheet.decompositions.items() if seen(p)],
            "history": [
                {"type": h.type, "recorded_at": h.recorded_at, "actor": h.actor, **h.fields}
                for h in sheet.history
                if seen(h.scope)
            ],
        }
    )


def _within(access, scope: str) -> None:
    access.scope(scope)
    if scope.strip().startswith("rep:"):
        access.not_own(scope.strip()[4:], "your own target")
