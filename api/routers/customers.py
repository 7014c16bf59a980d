from __future__ import annotations

from fastapi import APIRouter

from api.deps import MetaDep, RuntimeDep, answer
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


@router.post("", status_code=201)
def register_customer(body: RegisterCustomer, rt: RuntimeDep, meta: MetaDep):
    return answer(rt, rt.ledger.register_customer(meta, **body.model_dump()), 201)


@router.get("/{customer_id}")
def get_customer(customer_id: str, rt: RuntimeDep, version: VersionParam = None, as_of: AsOfParam = None):
    return aggregate_view(rt, Customer, customer_id, version, as_of)
