from __future__ import annotations

from fastapi import APIRouter

from api.deps import MetaDep, RuntimeDep, answer
from api.history import aggregate_view
from api.models import AsOfParam, Body, DateField, Text, VersionParam
from domain.rep import Rep

router = APIRouter(prefix="/reps", tags=["reps"])


class HireRep(Body):
    name: Text
    level: str
    team: Text
    region: Text
    manager_id: str | None = None
    hired_on: DateField = None


@router.post("", status_code=201)
def hire_rep(body: HireRep, rt: RuntimeDep, meta: MetaDep):
    """Hire a rep (junior, mid, senior), a manager or a director."""
    return answer(rt, rt.ledger.hire_rep(meta, **body.model_dump()), 201)


@router.get("/{rep_id}")
def get_rep(rep_id: str, rt: RuntimeDep, version: VersionParam = None, as_of: AsOfParam = None):
    return aggregate_view(rt, Rep, rep_id, version, as_of)
