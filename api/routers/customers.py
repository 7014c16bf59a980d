from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from api.deps import MetaDep, RuntimeDep, answer
from api.history import aggregate_view
from api.models import AsOfParam, Body, DateField, OptionalText, Text, VersionParam
from domain.customer import Customer

router = APIRouter(prefix="/customers", tags=["customers"])


class RegisterCustomer(Body):
    name: Text
    region: Text
    industry: Text
    owner_id: str | None = None
    size_band: OptionalText = None
    registered_on: DateField = None


@router.post("", status_code=201)
def register_customer(body: RegisterCustomer, rt: RuntimeDep, meta: MetaDep):
    fields = body.model_dump()
    fields["registered_on"] = fields["registered_on"] or date.today()
    return answer(rt, rt.ledger.register_customer(meta, **fields), 201)


@router.get("/{customer_id}")
def get_customer(customer_id: str, rt: RuntimeDep, version: VersionParam = None, as_of: AsOfParam = None):
    return aggregate_view(rt, Customer, customer_id, version, as_of)
