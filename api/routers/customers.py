from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from api.deps import IfMatch, MetaDep, RuntimeDep, answer
from api.history import aggregate_view
from api.models import AsOfParam, Body, OptionalText, Text, Today, VersionParam
from domain.customer import Customer

router = APIRouter(prefix="/customers", tags=["customers"])


class RegisterCustomer(Body):
    name: Text
    region: Text
    industry: Text
    owner_id: str | None = None
    size_band: OptionalText = None
    registered_on: Today


class GradeCustomer(Body):
    grade: str
    reason: Text


class TransferOwner(Body):
    owner_id: Text
    reason: Text
    effective_on: Today


class LogVisit(Body):
    rep_id: Text
    kind: str
    occurred_at: datetime
    notes: OptionalText = None
    next_step: OptionalText = None


@router.post("", status_code=201)
def register_customer(body: RegisterCustomer, rt: RuntimeDep, meta: MetaDep):
    return answer(rt, rt.ledger.register_customer(meta, **body.model_dump()), 201)


@router.post("/{customer_id}/grade")
def grade(customer_id: str, body: GradeCustomer, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Grade A, B or C by value and potential, with the reason."""
    return answer(rt, rt.ledger.grade_customer(meta, customer_id, **body.model_dump(), expected_version=version))


@router.post("/{customer_id}/owner")
def transfer_owner(customer_id: str, body: TransferOwner, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Hand the customer to another rep; commission credit already earned stays where it was."""
    return answer(rt, rt.ledger.transfer_customer(meta, customer_id, **body.model_dump(), expected_version=version))


@router.post("/{customer_id}/visits", status_code=201)
def log_visit(customer_id: str, body: LogVisit, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """A visit, revisit or call by a rep."""
    return answer(rt, rt.ledger.log_visit(meta, customer_id, **body.model_dump(), expected_version=version), 201)


@router.get("/{customer_id}")
def get_customer(customer_id: str, rt: RuntimeDep, version: VersionParam = None, as_of: AsOfParam = None):
    return aggregate_view(rt, Customer, customer_id, version, as_of)
