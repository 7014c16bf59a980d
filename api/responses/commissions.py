"""What the plan and statement read routes answer."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example
from api.responses.fx import RateOut


class PlanVersionsVersion(BaseModel):
    version: int
    name: str
    currency: str
    period: str
    effective_from: dt.date
    clawback_days: int
    components: list[dict[str, Any]]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "version": 1,
                    "name": "Field sales",
                    "currency": "CNY",
                    "period": "month",
                    "effective_from": "2025-11-01",
                    "clawback_days": 180,
                    "components": [
                        {
                            "name": "base",
                            "type": "tiered_rate",
                            "basis": "revenue",
                            "payable_on": "booking",
                            "tier_mode": "marginal",
                            "thresholds": "amount",
                            "tiers": [{"up_to": "150000", "rate": "0.04"}],
                            "cap": None,
                        }
                    ],
                }
            ]
        },
    )


class PlanVersions(BaseModel):
    """A commission plan with every version."""

    id: str
    version: int
    versions: list[PlanVersionsVersion]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "eddd907e-fa80-541a-a146-aa98c96c24a3",
                    "version": 2,
                    "versions": [example(PlanVersionsVersion)],
                }
            ]
        },
    )


class LineDifference(BaseModel):
    line_id: str
    frozen: str | None = Field(description="the amount at the close; null: the line is new")
    recomputed: str | None = Field(description="the amount now; null: the line is gone")
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "line_id": "2026-07~16dff177-5c47-50f1-9019-efdaa20ea020~base~b42ed611-3945-5846-8ed4-a7aca87f5337",
                    "frozen": "18553.50",
                    "recomputed": "17800.00",
                }
            ]
        },
    )


class StatementVerification(BaseModel):
    """A closed statement recomputed from history as it stood at the close, its digest compared, and
    what has changed since."""

    rep_id: str
    period: str
    frozen_digest: str
    recomputed_digest: str
    verified: bool
    differences: list[LineDifference]
    changed_since_close: list[LineDifference]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "16dff177-5c47-50f1-9019-efdaa20ea020",
                    "period": "2026-06",
                    "frozen_digest": "fdb77d70dca2fc25668bf4beda2a556da1e1d5b039c97cfcde6f01e623add016",
                    "recomputed_digest": "fdb77d70dca2fc25668bf4beda2a556da1e1d5b039c97cfcde6f01e623add016",
                    "verified": True,
                    "differences": [],
                    "changed_since_close": [],
                }
            ]
        },
    )


class StatementLine(BaseModel):
    id: str
    kind: str = Field(
        description="earned | clawback | override | bonus | draw | draw_recovery | adjustment | deduction"
    )
    deal_id: str | None
    component: str | None
    basis_amount: str
    amount: str
    plan_id: str | None
    plan_version: int | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "2026-09~16dff177-5c47-50f1-9019-efdaa20ea020~7954dc4d63bad0b0",
                    "kind": "override",
                    "deal_id": "03df61c8-bcbf-536f-852f-c1b7199ce78e",
                    "component": "manager override",
                    "basis_amount": "237600.00",
                    "amount": "7128.00",
                    "plan_id": "5cbf2141-7ace-5f42-89d3-02088b19e949",
                    "plan_version": 1,
                }
            ]
        },
    )


class SourceEvent(BaseModel):
    type: str
    aggregate_id: str
    version: int
    position: int
    recorded_at: dt.datetime
    actor: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "DealRefunded",
                    "aggregate_id": "01482634-62f8-535b-8686-c008bdb4747c",
                    "version": 10,
                    "position": 818,
                    "recorded_at": "2026-12-07T09:21:20.817243+00:00",
                    "actor": "admin:token",
                }
            ]
        },
    )


class StatementClawbackNote(BaseModel):
    deal_id: str
    component: str
    refund_kind: str
    amount: str
    day: dt.date
    days_after_signing: int
    clawback_days: int
    note: str
    source: SourceEvent
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "deal_id": "01482634-62f8-535b-8686-c008bdb4747c",
                    "component": "manager override",
                    "refund_kind": "refund",
                    "amount": "1000.00",
                    "day": "2026-11-25",
                    "days_after_signing": 280,
                    "clawback_days": 180,
                    "note": "refund 280 days after signing, beyond the plan's clawback_days (180): nothing is clawed back",
                    "source": {
                        "type": "DealRefunded",
                        "aggregate_id": "01482634-62f8-535b-8686-c008bdb4747c",
                        "version": 10,
                        "position": 818,
                        "recorded_at": "2026-12-07T09:21:20.817243+00:00",
                        "actor": "admin:token",
                    },
                }
            ]
        },
    )


class Statement(BaseModel):
    """A rep's commission statement (提成明细) for a month: live while open, frozen once closed."""

    approved_by: str | None = Field(None)
    approved_at: dt.datetime | None = Field(None)
    paid_on: dt.date | None = Field(None)
    reference: str | None = Field(None)
    paid_by: str | None = Field(None)
    paid_at: dt.datetime | None = Field(None)
    rep_id: str
    period: str
    currency: str
    status: str
    total: str
    digest: str
    lines: list[StatementLine]
    closed_as_of_position: int | None = Field(None)
    note: str = Field(None)
    clawback_notes: list[StatementClawbackNote] = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "clawback_notes": [example(StatementClawbackNote)],
                    "rep_id": "16dff177-5c47-50f1-9019-efdaa20ea020",
                    "period": "2026-11",
                    "currency": "CNY",
                    "status": "open",
                    "total": "0.00",
                    "digest": "fa03cb343e57e722394cd8955ab1df27cce9bcc957f20c5d37c12397cc06a251",
                    "lines": [example(StatementLine)],
                    "note": "open: live figures; rank and team-target bonuses are settled at close",
                }
            ]
        },
    )


class LineExplanationTarget(BaseModel):
    scope: str
    metric: str
    value: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"scope": "team:华东一组", "metric": "revenue", "value": "300000.00"}]},
    )


class LineExplanationTierWalkItemBand(BaseModel):
    above: str
    up_to: str | None
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, json_schema_extra={"examples": [{"above": "0.00", "up_to": "150000.00"}]}
    )


class LineExplanationTierWalkItem(BaseModel):
    band: LineExplanationTierWalkItemBand
    slice: str
    rate: str | None
    amount: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "band": {"above": "0.00", "up_to": "150000.00"},
                    "slice": "150000.00",
                    "rate": "0.045",
                    "amount": "6750.00",
                }
            ]
        },
    )


class LineExplanationFx(BaseModel):
    from_: str = Field(alias="from")
    into: str
    on: dt.date
    factor: str
    rates: list[RateOut]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "USD",
                    "into": "CNY",
                    "on": "2026-09-20",
                    "factor": "7.095000",
                    "rates": [{"currency": "USD", "rate": "7.095000", "effective_on": "2026-08-01", "position": 164}],
                }
            ]
        },
    )


class LineExplanation(BaseModel):
    """The line and its provenance: which keys there are depends on the line's kind and component."""

    line: StatementLine
    rep_id: str
    period: str
    status: str
    plan_id: str | None = Field(None)
    plan_version: int | None = Field(None)
    component: dict[str, Any] | None = Field(None)
    team: str = Field(None)
    team_revenue: str = Field(None)
    target: LineExplanationTarget | None = Field(None)
    basis: str = Field(None)
    credited_rep: str = Field(None)
    split_share: str = Field(None)
    accumulated_before: str = Field(None)
    accumulated_after: str = Field(None)
    tier_walk: list[LineExplanationTierWalkItem] = Field(None)
    sources: list[SourceEvent] = Field(None)
    amount_before_rounding: str = Field(None)
    fx: LineExplanationFx = Field(None)
    metric_value: int | str = Field(None)
    rank: int = Field(None)
    cut_value: int | str = Field(None)
    note: str = Field(None)
    payable_on: str | None = Field(None)
    clawback_days: int = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "line": {
                        "id": "2026-09~16dff177-5c47-50f1-9019-efdaa20ea020~7954dc4d63bad0b0",
                        "kind": "override",
                        "deal_id": "03df61c8-bcbf-536f-852f-c1b7199ce78e",
                        "component": "manager override",
                        "basis_amount": "237600.00",
                        "amount": "7128.00",
                        "plan_id": "5cbf2141-7ace-5f42-89d3-02088b19e949",
                        "plan_version": 1,
                    },
                    "rep_id": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "period": "2026-09",
                    "status": "closed",
                    "plan_id": "eddd907e-fa80-541a-a146-aa98c96c24a3",
                    "plan_version": 2,
                    "component": {
                        "name": "base",
                        "type": "tiered_rate",
                        "basis": "revenue",
                        "payable_on": "booking",
                        "tier_mode": "marginal",
                        "thresholds": "amount",
                        "tiers": [{"up_to": "150000.00", "rate": "0.045"}],
                        "cap": None,
                    },
                    "basis": "640323.75",
                    "split_share": "1",
                    "payable_on": "booking",
                    "accumulated_before": "0.00",
                    "accumulated_after": "640323.75",
                    "clawback_days": 180,
                    "target": {"scope": "team:华东一组", "metric": "revenue", "value": "300000.00"},
                    "sources": [
                        {
                            "type": "DealWon",
                            "aggregate_id": "03df61c8-bcbf-536f-852f-c1b7199ce78e",
                            "version": 4,
                            "position": 217,
                            "recorded_at": "2026-12-07T09:21:19.121705+00:00",
                            "actor": "demo",
                        }
                    ],
                    "fx": {
                        "from": "USD",
                        "into": "CNY",
                        "on": "2026-09-20",
                        "factor": "7.095000",
                        "rates": [
                            {"currency": "USD", "rate": "7.095000", "effective_on": "2026-08-01", "position": 164}
                        ],
                    },
                    "tier_walk": [example(LineExplanationTierWalkItem)],
                    "amount_before_rounding": "46427.52",
                }
            ]
        },
    )
