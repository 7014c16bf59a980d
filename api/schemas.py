"""Response models of the list and import routes, with examples, so that `/docs` shows what
they answer. Money is a decimal string with two places; dates are YYYY-MM-DD."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Money = str


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")
    next: str | None = Field(description="pass as `after` for the following page; null on the last page")


class RepItem(BaseModel):
    rep_id: str
    name: str | None
    external_id: str | None
    level: str
    team: str
    region: str
    manager_id: str | None
    status: str = Field(description="active | left")
    hired_on: str | None
    partner_id: str | None = Field(None, description="the channel partner the rep is staff of")


class RepPage(Page):
    as_of: str
    items: list[RepItem]
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "as_of": "2026-11-30",
                "items": [
                    {
                        "rep_id": "6f1c2b9e-8d1a-4c1e-9a55-2f3e1d6a9c01",
                        "name": "王芳",
                        "external_id": "FX-0042",
                        "level": "senior",
                        "team": "华东一组",
                        "region": "华东",
                        "manager_id": "0b7e3d6a-1f2c-4f0e-9a55-2f3e1d6a9c02",
                        "status": "active",
                        "hired_on": "2023-03-01",
                    }
                ],
                "next": "6f1c2b9e-8d1a-4c1e-9a55-2f3e1d6a9c01",
            }
        }
    )


class CustomerItem(BaseModel):
    customer_id: str
    name: str
    region: str
    industry: str
    owner_id: str | None
    grade: str | None
    classification: str | None
    lifecycle: str = Field(description="prospect | active | dormant | lost")
    last_activity_on: str | None
    external_id: str | None


class CustomerPage(Page):
    items: list[CustomerItem]
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [
                    {
                        "customer_id": "2d4f6a8c-0e1f-4a2b-8c3d-5e6f7a8b9c0d",
                        "name": "上海精密有限公司",
                        "region": "华东",
                        "industry": "manufacturing",
                        "owner_id": "6f1c2b9e-8d1a-4c1e-9a55-2f3e1d6a9c01",
                        "grade": "A",
                        "classification": "key",
                        "lifecycle": "active",
                        "last_activity_on": "2026-11-12",
                        "external_id": "CUS-1001",
                    }
                ],
                "next": None,
            }
        }
    )


class DealItem(BaseModel):
    deal_id: str
    customer_id: str
    external_id: str | None
    title: str | None
    owner_id: str
    product_line: str
    currency: str
    status: str = Field(description="open | won | lost")
    stage: str
    opened_on: str
    amount: Money
    signed_amount: Money
    gross_margin: Money
    signed_on: str | None
    payment_due_on: str | None
    collected: Money
    refunded: Money
    cancelled: Money
    receivable: Money


class DealPage(Page):
    items: list[DealItem]
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [
                    {
                        "deal_id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
                        "customer_id": "2d4f6a8c-0e1f-4a2b-8c3d-5e6f7a8b9c0d",
                        "external_id": "OPP-77",
                        "title": "ERP 二期",
                        "owner_id": "6f1c2b9e-8d1a-4c1e-9a55-2f3e1d6a9c01",
                        "product_line": "ERP",
                        "currency": "CNY",
                        "status": "won",
                        "stage": "negotiation",
                        "opened_on": "2026-03-02",
                        "amount": "120000.00",
                        "signed_amount": "118000.00",
                        "gross_margin": "41300.00",
                        "signed_on": "2026-05-18",
                        "payment_due_on": "2026-06-17",
                        "collected": "59000.00",
                        "refunded": "0.00",
                        "cancelled": "0.00",
                        "receivable": "59000.00",
                    }
                ],
                "next": None,
            }
        }
    )


class PlanItem(BaseModel):
    id: str
    version: int
    name: str | None
    body: dict[str, Any] = Field(description="the newest version: name, currency, period, effective_from, components")


class PlanPage(Page):
    items: list[PlanItem]
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "items": [
                    {
                        "id": "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99",
                        "version": 2,
                        "name": "Field sales",
                        "body": {
                            "name": "Field sales",
                            "currency": "CNY",
                            "period": "month",
                            "effective_from": "2026-07-01",
                            "clawback_days": 180,
                            "components": [
                                {
                                    "name": "base",
                                    "type": "tiered_rate",
                                    "basis": "revenue",
                                    "payable_on": "booking",
                                    "tier_mode": "marginal",
                                    "thresholds": "amount",
                                    "tiers": [{"up_to": None, "rate": "0.05"}],
                                    "cap": None,
                                }
                            ],
                        },
                    }
                ],
                "next": None,
            }
        }
    )


class FileCount(BaseModel):
    rows: int
    events: int
    already_present: int


class ImportAnswer(BaseModel):
    dry_run: bool
    rows: int
    events: int
    already_present: int
    files: dict[str, FileCount]
    position: int | None = Field(description="store position of the last event written; null when nothing was")
