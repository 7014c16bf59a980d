"""What the deal read routes answer."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example


class SalesPolicy(BaseModel):
    """The sales policy in force: stage probabilities, loss reasons, payment terms, dormancy."""

    version: int
    settings: dict[str, Any]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "version": 0,
                    "settings": {
                        "stage_probabilities": {
                            "initial_contact": "0.10",
                            "needs_analysis": "0.25",
                            "proposal": "0.50",
                            "negotiation": "0.75",
                        },
                        "loss_reasons": ["price"],
                        "payment_terms_days": 30,
                        "dormant_after_days": 90,
                    },
                }
            ]
        },
    )


class NegotiationChange(BaseModel):
    from_: Any = Field(alias="from", description="the value before: text, decimal string, a list of names or ids, null")
    to: Any
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"from": ["竞品A"], "to": ["竞品A", "竞品C"]}]},
    )


class NegotiationPictureHistoryItem(BaseModel):
    on: dt.date
    changes: dict[str, NegotiationChange] = Field(
        description="by field: budget, decision_process, decision_makers, competitors"
    )
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "on": "2026-11-20",
                    "changes": {
                        "budget": {"from": "500000.00", "to": "450000.00"},
                        "decision_process": {"from": None, "to": "总经理审批，采购部执行"},
                        "decision_makers": {"from": [], "to": ["ecde0a3123d0594c958d942ef6541133"]},
                        "competitors": {"from": ["竞品A"], "to": ["竞品A"]},
                    },
                }
            ]
        },
    )


class NegotiationPicture(BaseModel):
    """A deal's negotiation picture on a day (budget, decision process and makers, competitors) and
    the changes that made it."""

    deal_id: str
    on: dt.date
    budget: str | None
    decision_process: str | None
    decision_makers: list[str]
    competitors: list[str]
    as_of: dt.date | None
    history: list[NegotiationPictureHistoryItem]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "deal_id": "67e3732b-a7b0-5ca4-b79c-11e97cb6ce9c",
                    "on": "2026-12-07",
                    "budget": "450000.00",
                    "decision_process": "总经理审批，采购部执行",
                    "decision_makers": ["ecde0a3123d0594c958d942ef6541133"],
                    "competitors": ["竞品A"],
                    "as_of": "2026-11-28",
                    "history": [example(NegotiationPictureHistoryItem)],
                }
            ]
        },
    )
