from __future__ import annotations

from fastapi import APIRouter

from api.deps import MetaDep, RuntimeDep, answer
from api.history import aggregate_view
from api.models import AsOfParam, Body, OptionalText, Text, Today, VersionParam
from domain.lead import Lead

router = APIRouter(prefix="/leads", tags=["leads"])


class CaptureLead(Body):
    company: Text
    source: str
    region: Text
    industry: Text
    contact_name: OptionalText = None
    phone: OptionalText = None
    email: OptionalText = None
    wechat_id: OptionalText = None
    size_band: OptionalText = None
    product_line: OptionalText = None
    notes: OptionalText = None
    captured_on: Today


@router.post("", status_code=201)
def capture_lead(body: CaptureLead, rt: RuntimeDep, meta: MetaDep):
    """Capture a lead; the answer says which open lead it duplicates, if any (`duplicate_of`)."""
    return answer(rt, rt.ledger.capture_lead(meta, **body.model_dump()), 201)


@router.get("/{lead_id}")
def get_lead(lead_id: str, rt: RuntimeDep, version: VersionParam = None, as_of: AsOfParam = None):
    return aggregate_view(rt, Lead, lead_id, version, as_of)
