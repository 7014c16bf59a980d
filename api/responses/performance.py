"""What the organisation, KPI and leaderboard routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example
from api.responses.fx import CurrencyAmount, DisplayRate


class OrgChartNode(BaseModel):
    rep_id: str
    name: str | None
    level: str
    manager_id: str | None
    team: str
    region: str
    partner_id: str | None
    duties: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "ce95dbf2-f3d8-4e93-b0b9-4ad73b4f8c1c",
                    "name": "渠道销售 陈",
                    "level": "junior",
                    "manager_id": "16dff177-5c47-50f1-9019-efdaa20ea020",
                    "team": "渠道一组",
                    "region": "华东",
                    "partner_id": "596d4deb-7391-4f59-a03b-c9c5de65b59d",
                    "duties": "first contact and information gathering",
                }
            ]
        },
    )


class OrgChart(BaseModel):
    """The hierarchy on a date: director, managers and reps with their duties."""

    as_of: dt.date
    nodes: list[OrgChartNode]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "nodes": [example(OrgChartNode)],
                }
            ]
        },
    )


class KpiMetric(BaseModel):
    metric: str
    target: str | None
    actual: int | str | None
    attainment: str | None
    target_source: str | None = Field(None)
    unconverted: list[CurrencyAmount] = Field(
        None, description="amounts no exchange rate converts yet: never summed in"
    )
    relief: str = Field(None, description="credit toward attainment, never part of the actual")
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "metric": "revenue",
                    "target": "1200000.00",
                    "actual": "0.00",
                    "attainment": "0.0000",
                    "target_source": "prorated from 2026",
                }
            ]
        },
    )


class KpiScorecardRevisitAdherence(BaseModel):
    on_time: int
    late_or_overdue: int
    rate: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"on_time": 0, "late_or_overdue": 1, "rate": "0.0000"}]},
    )


class KpiScorecardProductMixItem(BaseModel):
    product_line: str
    revenue: str
    share: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"product_line": "ERP", "revenue": "341797.64", "share": "1.0000"}]},
    )


class KpiScorecard(BaseModel):
    """Actual against target and attainment of every metric for a scope and period, with collection
    rate, revisit adherence, visits per working day, active customers by grade and product mix."""

    scope: str
    period: str
    as_of: str | None
    metrics: list[KpiMetric]
    gross_margin_attainment: str | None
    collection_rate: str | None
    revisit_adherence: KpiScorecardRevisitAdherence
    visits_per_working_day: str | None
    working_days: int
    members: int
    active_customers_by_grade: dict[str, int]
    product_mix: list[KpiScorecardProductMixItem]
    currency: str
    display_rate: DisplayRate = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "scope": "team:华东一组",
                    "period": "2026-06",
                    "as_of": None,
                    "metrics": [example(KpiMetric)],
                    "gross_margin_attainment": None,
                    "collection_rate": "0.6667",
                    "revisit_adherence": {"on_time": 0, "late_or_overdue": 1, "rate": "0.0000"},
                    "visits_per_working_day": "0.0455",
                    "working_days": 22,
                    "members": 2,
                    "active_customers_by_grade": {"A": 2, "B": 3, "C": 0, "ungraded": 1},
                    "product_mix": [{"product_line": "ERP", "revenue": "341797.64", "share": "1.0000"}],
                    "currency": "USD",
                    "display_rate": {
                        "currency": "USD",
                        "rate": "7.185000",
                        "effective_on": "2026-03-01",
                        "position": 163,
                        "on": "2026-06-30",
                    },
                }
            ]
        },
    )


class LeaderboardRow(BaseModel):
    rep_id: str
    name: str | None
    value: int | str
    rank: int
    level: str
    team: str
    region: str
    attainment: str | None
    previous_rank: int | None = Field(description="null: not ranked in the previous period")
    rank_change: int | None
    unconverted: list[CurrencyAmount] = Field(
        None, description="amounts no exchange rate converts yet: never summed in"
    )
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "e35fb193-ab11-5cd4-bb7f-8b692c38d105",
                    "name": "何强",
                    "value": "0.00",
                    "rank": 1,
                    "level": "mid",
                    "team": "西南二组",
                    "region": "西南",
                    "attainment": "0.0000",
                    "previous_rank": 1,
                    "rank_change": 0,
                }
            ]
        },
    )


class Leaderboard(BaseModel):
    """Reps ranked densely by a metric for a period, with attainment and the change against the
    previous period."""

    currency: str | None
    metric: str
    period: str
    previous_period: str
    scope: str
    as_of: str | None
    levels: list[str]
    rows: list[LeaderboardRow]
    best: list[LeaderboardRow]
    display_rate: DisplayRate = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "currency": "CNY",
                    "metric": "revenue",
                    "period": "2026-06",
                    "previous_period": "2026-05",
                    "scope": "company",
                    "as_of": None,
                    "levels": ["junior"],
                    "rows": [example(LeaderboardRow)],
                    "best": [
                        {
                            "rep_id": "59368757-5676-5387-a432-c9907a227184",
                            "name": "马霞",
                            "value": "341797.64",
                            "rank": 1,
                            "level": "mid",
                            "team": "华北一组",
                            "region": "华北",
                            "attainment": "2.2787",
                            "previous_rank": 1,
                            "rank_change": 0,
                        }
                    ],
                }
            ]
        },
    )
