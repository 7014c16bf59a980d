"""What the pipeline, receivables and projection status routes answer."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example
from api.responses.fx import CurrencyAmount, DisplayRate


class PipelineBoardStage(BaseModel):
    stage: str
    count: int
    amount: str
    weighted_amount: str
    probability: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "stage": "initial_contact",
                    "count": 2,
                    "amount": "942500.00",
                    "weighted_amount": "94250.00",
                    "probability": "0.10",
                }
            ]
        },
    )


class PipelineBoardOpen(BaseModel):
    count: int
    amount: str
    weighted_amount: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"count": 9, "amount": "3084943.75", "weighted_amount": "1524332.81"}]},
    )


class PipelineBoardWon(BaseModel):
    count: int
    amount: str
    gross_margin: str
    refunded: str
    net_amount: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "count": 10,
                    "amount": "3661873.75",
                    "gross_margin": "1148813.50",
                    "refunded": "1000.00",
                    "net_amount": "3660873.75",
                }
            ]
        },
    )


class PipelineBoardLost(BaseModel):
    count: int
    amount: str
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, json_schema_extra={"examples": [{"count": 43, "amount": "16950990.42"}]}
    )


class PipelineBoardLossReason(BaseModel):
    reason: str
    count: int
    share: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"reason": "no_budget", "count": 14, "share": "0.3256"}]},
    )


class PipelineBoardConversionItem(BaseModel):
    from_: str = Field(alias="from")
    to: str
    reached_from: int
    reached_to: int
    rate: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "initial_contact",
                    "to": "needs_analysis",
                    "reached_from": 62,
                    "reached_to": 54,
                    "rate": "0.8710",
                }
            ]
        },
    )


class PipelineBoardVelocityItem(BaseModel):
    stage: str
    count: int
    mean_days: str | None
    median_days: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"stage": "initial_contact", "count": 60, "mean_days": "6.80", "median_days": "5.50"}]
        },
    )


class PipelineBoardForecastItem(BaseModel):
    month: str
    count: int
    amount: str
    weighted_amount: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"month": "2026-03", "count": 2, "amount": "832443.75", "weighted_amount": "508582.81"}]
        },
    )


class PipelineBoard(BaseModel):
    """Open deals per stage, won and lost totals, win rate, loss reasons, conversion, velocity and
    forecast."""

    currency: str
    period: str | None
    filters: dict[str, Any]
    stages: list[PipelineBoardStage]
    open: PipelineBoardOpen
    won: PipelineBoardWon
    lost: PipelineBoardLost
    win_rate: str | None
    loss_reasons: list[PipelineBoardLossReason]
    conversion: list[PipelineBoardConversionItem]
    velocity: list[PipelineBoardVelocityItem]
    forecast: list[PipelineBoardForecastItem]
    unconverted: list[CurrencyAmount]
    display_rate: DisplayRate = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "currency": "USD",
                    "period": "2026-Q2",
                    "filters": {"owner_id": "00000000-0000-0000-0000-000000000000"},
                    "stages": [example(PipelineBoardStage)],
                    "open": {"count": 9, "amount": "3084943.75", "weighted_amount": "1524332.81"},
                    "won": {
                        "count": 10,
                        "amount": "3661873.75",
                        "gross_margin": "1148813.50",
                        "refunded": "1000.00",
                        "net_amount": "3660873.75",
                    },
                    "lost": {"count": 43, "amount": "16950990.42"},
                    "win_rate": "0.4000",
                    "loss_reasons": [{"reason": "no_budget", "count": 14, "share": "0.3256"}],
                    "conversion": [example(PipelineBoardConversionItem)],
                    "velocity": [{"stage": "initial_contact", "count": 60, "mean_days": "6.80", "median_days": "5.50"}],
                    "forecast": [example(PipelineBoardForecastItem)],
                    "unconverted": [],
                    "display_rate": {
                        "currency": "USD",
                        "rate": "7.095000",
                        "effective_on": "2026-08-01",
                        "position": 164,
                        "on": "2026-12-07",
                    },
                }
            ]
        },
    )


class ProjectionStatus(BaseModel):
    """A projection's position, the store head, its lag, state and last error."""

    name: str
    version: int
    position: int
    head: int
    lag: int
    state: str
    last_error: str | None
    on_error: str
    parked: int
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "pipeline",
                    "version": 5,
                    "position": 832,
                    "head": 832,
                    "lag": 0,
                    "state": "live",
                    "last_error": None,
                    "on_error": "stop",
                    "parked": 0,
                }
            ]
        },
    )


class ReceivablesReportRow(BaseModel):
    rep: str = Field(None)
    deals: int
    billed: str
    collected: str
    receivable: str
    collection_rate: str | None
    name: str | None = Field(None)
    team: str = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "deals": 2,
                    "billed": "1258773.75",
                    "collected": "1258773.75",
                    "receivable": "0.00",
                    "collection_rate": "1.0000",
                    "name": "李刚",
                }
            ]
        },
    )


class ReceivablesReportOverdueItem(BaseModel):
    deal_id: str
    title: str | None
    owner_id: str
    product_line: str
    currency: str
    status: str
    stage: str
    opened_on: dt.date
    amount: str
    signed_amount: str
    gross_margin: str
    signed_on: dt.date
    payment_due_on: dt.date
    collected: str
    refunded: str
    cancelled: str
    receivable: str
    customer_id: str
    days_overdue: int
    receivable_in_base: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "deal_id": "fb9b6d99-783c-5fbe-86a4-8cb837a6ab41",
                    "title": "北京环保有限公司1 58",
                    "owner_id": "59368757-5676-5387-a432-c9907a227184",
                    "product_line": "Cloud",
                    "currency": "CNY",
                    "status": "won",
                    "stage": "proposal",
                    "opened_on": "2026-01-20",
                    "amount": "253500.00",
                    "signed_amount": "240825.00",
                    "gross_margin": "84288.75",
                    "signed_on": "2026-01-29",
                    "payment_due_on": "2026-02-28",
                    "collected": "1000.00",
                    "refunded": "0.00",
                    "cancelled": "0.00",
                    "receivable": "239825.00",
                    "customer_id": "67777692-6aa8-5fce-981b-b46fbdfdf2f9",
                    "days_overdue": 282,
                    "receivable_in_base": "239825.00",
                }
            ]
        },
    )


class ReceivablesReport(BaseModel):
    """Collection rate (回款率) of the period's signed deals per rep or team, and the receivables
    overdue."""

    period: str
    as_of: dt.date
    group_by: str
    currency: str
    rows: list[ReceivablesReportRow]
    unconverted: list[CurrencyAmount]
    overdue: list[ReceivablesReportOverdueItem]
    overdue_total: str
    overdue_unconverted: list[CurrencyAmount]
    display_rate: DisplayRate = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-Q3",
                    "as_of": "2026-12-07",
                    "group_by": "team",
                    "currency": "USD",
                    "rows": [example(ReceivablesReportRow)],
                    "unconverted": [],
                    "overdue": [example(ReceivablesReportOverdueItem)],
                    "overdue_total": "236028.89",
                    "overdue_unconverted": [],
                    "display_rate": {
                        "currency": "USD",
                        "rate": "7.095000",
                        "effective_on": "2026-08-01",
                        "position": 164,
                        "on": "2026-12-07",
                    },
                }
            ]
        },
    )


class DeadLetter(BaseModel):
    position: int
    event_type: str
    error: str | None
    error_traceback: str | None
    status: str = Field(description="parked | retried")
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "position": 4711,
                    "event_type": "DealWon",
                    "error": "KeyError: 'signed_on'",
                    "error_traceback": "Traceback (most recent call last): ...",
                    "status": "parked",
                }
            ]
        },
    )


class DeadLetters(BaseModel):
    """Events a projection set aside (on_error = park)."""

    projection: str
    items: list[DeadLetter]
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, json_schema_extra={"examples": [{"projection": "pipeline", "items": []}]}
    )
