"""What the sales process reports answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example


class DeliveryMilestone(BaseModel):
    deal_id: str
    customer_id: str
    owner_id: str
    title: str | None
    name: str
    planned_on: dt.date
    done_on: dt.date | None
    status: str
    days_overdue: int
    on_time: bool | None = Field(description="done by the planned date; null while not done")
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "deal_id": "01482634-62f8-535b-8686-c008bdb4747c",
                    "customer_id": "a8d059b2-b5f9-5c35-a3d1-d0de00bc74eb",
                    "owner_id": "622ea0b0-eda1-5a33-80ad-58aa5b3e7df1",
                    "title": "南京精密有限公司8 30",
                    "name": "上线",
                    "planned_on": "2026-10-15",
                    "done_on": "2026-10-20",
                    "status": "done",
                    "days_overdue": 0,
                    "on_time": False,
                }
            ]
        },
    )


class DeliveryList(BaseModel):
    """Delivery milestones of won deals by planned date; `truncated` when the list was cut."""

    as_of: dt.date
    status: str | None
    items: list[DeliveryMilestone]
    truncated: bool
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "status": "done",
                    "items": [example(DeliveryMilestone)],
                    "truncated": False,
                }
            ]
        },
    )


class ProposalWinRatesRow(BaseModel):
    proposals: int
    open: int
    won: int
    lost: int
    win_rate: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"proposals": 0, "open": 9, "won": 10, "lost": 43, "win_rate": "0.1887"}]},
    )


class ProposalWinRates(BaseModel):
    """Deals by the number of proposals sent on them: open, won, lost and win rate."""

    rows: list[ProposalWinRatesRow]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"rows": [{"proposals": 0, "open": 9, "won": 10, "lost": 43, "win_rate": "0.1887"}]}]
        },
    )


class CompetitorReportRow(BaseModel):
    competitor: str
    deals: int
    open: int
    won: int
    lost: int
    win_rate: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"competitor": "竞品A", "deals": 15, "open": 4, "won": 0, "lost": 11, "win_rate": "0.0000"}]
        },
    )


class CompetitorReport(BaseModel):
    """Competitors met across deals, most met first, with our wins, losses and win rate against
    each."""

    rows: list[CompetitorReportRow]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"rows": [{"competitor": "竞品A", "deals": 15, "open": 4, "won": 0, "lost": 11, "win_rate": "0.0000"}]}
            ]
        },
    )
