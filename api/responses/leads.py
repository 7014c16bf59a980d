"""What the lead read routes answer."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example
from api.responses.events import EventRecord


class LeadPageItem(BaseModel):
    lead_id: str
    company: str
    region: str
    industry: str
    size_band: str | None
    product_line: str | None
    source: str
    captured_on: dt.date
    status: str
    grade: str | None
    score: str | None
    assignee_id: str | None
    assigned_at: dt.datetime | None
    first_contact_at: dt.datetime | None
    last_contact_at: dt.datetime | None
    duplicate_of: str | None
    customer_id: str | None
    deal_id: str | None
    external_id: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "lead_id": "0f239a28-01e9-5fe8-9255-623358efdebf",
                    "company": "南京汽车零部件科技5",
                    "region": "华东",
                    "industry": "manufacturing",
                    "size_band": None,
                    "product_line": "CRM",
                    "source": "partner",
                    "captured_on": "2026-04-20",
                    "status": "converted",
                    "grade": "C",
                    "score": "40.70",
                    "assignee_id": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "assigned_at": "2026-04-20T02:00:00.000000+00:00",
                    "first_contact_at": "2026-04-20T07:00:00.000000+00:00",
                    "last_contact_at": "2026-04-20T07:00:00.000000+00:00",
                    "duplicate_of": None,
                    "customer_id": "67b1e732-56b8-5108-ac72-092089bdd496",
                    "deal_id": "a70c6872-d398-5bcf-b780-20e2b36782b0",
                    "external_id": None,
                }
            ]
        },
    )


class LeadPage(BaseModel):
    """Leads in capture order; `next` is the cursor for the following page."""

    items: list[LeadPageItem]
    next: int | None = Field(description="pass as `after` for the following page; null on the last page")
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "items": [example(LeadPageItem)],
                    "next": None,
                }
            ]
        },
    )


class LeadQueueItemNextDue(BaseModel):
    kind: str
    at: dt.datetime
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"kind": "first_response", "at": "2026-07-09T02:00:00+00:00"}]},
    )


class LeadQueueItem(BaseModel):
    lead_id: str
    company: str
    region: str
    industry: str
    size_band: str | None
    product_line: str | None
    source: str
    captured_on: dt.date
    status: str
    grade: str | None
    score: str | None
    assignee_id: str
    assigned_at: dt.datetime
    first_contact_at: dt.datetime | None
    last_contact_at: dt.datetime | None
    duplicate_of: str | None
    customer_id: str | None
    deal_id: str | None
    external_id: str | None
    age_days: int
    next_due: LeadQueueItemNextDue
    sla_state: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "lead_id": "239b031b-6b71-595e-8476-717ae4ea5a9d",
                    "company": "苏州精密科技22",
                    "region": "华东",
                    "industry": "healthcare",
                    "size_band": None,
                    "product_line": "IoT",
                    "source": "cold_call",
                    "captured_on": "2026-06-03",
                    "status": "assigned",
                    "grade": "C",
                    "score": "28.80",
                    "assignee_id": "2a1d387a-6d65-5fd6-ade2-17d1939b3f96",
                    "assigned_at": "2026-06-03T02:00:00.000000+00:00",
                    "first_contact_at": "2026-06-03T05:00:00.000000+00:00",
                    "last_contact_at": "2026-06-03T05:00:00.000000+00:00",
                    "duplicate_of": None,
                    "customer_id": None,
                    "deal_id": None,
                    "external_id": None,
                    "age_days": 187,
                    "next_due": {"kind": "first_response", "at": "2026-07-09T02:00:00+00:00"},
                    "sla_state": "breached",
                }
            ]
        },
    )


class LeadQueue(BaseModel):
    """A rep's open leads with their age, the next SLA deadline and its state."""

    rep_id: str
    as_of: dt.datetime
    items: list[LeadQueueItem]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "as_of": "2026-12-07T09:21:21.632745+00:00",
                    "items": [example(LeadQueueItem)],
                }
            ]
        },
    )


class LeadSlaReportRow(BaseModel):
    """One group: its key is named by `group_by` (rep, team or grade); rep groups carry the rep's name."""

    rep: str = Field(None)
    team: str = Field(None)
    grade: str = Field(None)
    assignments: int
    responded: int
    first_response_hours_median: str | None
    first_response_hours_p90: str | None
    first_response_breaches: int
    follow_up_breaches: int
    name: str | None = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep": "622ea0b0-eda1-5a33-80ad-58aa5b3e7df1",
                    "assignments": 1,
                    "responded": 1,
                    "first_response_hours_median": "24.00",
                    "first_response_hours_p90": "24.00",
                    "first_response_breaches": 0,
                    "follow_up_breaches": 0,
                    "name": "高明",
                }
            ]
        },
    )


class LeadSlaReport(BaseModel):
    """First response times and SLA breaches of the period's assignments, by rep, team or grade."""

    period: str
    group_by: str
    rows: list[LeadSlaReportRow]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "2026",
                    "group_by": "rep",
                    "rows": [example(LeadSlaReportRow)],
                }
            ]
        },
    )


class LeadSourceReportSource(BaseModel):
    source: str
    captured: int
    qualified: int
    converted: int
    won_deals: int
    won_revenue: str
    qualification_rate: str | None
    conversion_rate: str | None
    win_rate: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "source": "partner",
                    "captured": 3,
                    "qualified": 1,
                    "converted": 1,
                    "won_deals": 0,
                    "won_revenue": "0.00",
                    "qualification_rate": "0.3333",
                    "conversion_rate": "0.3333",
                    "win_rate": "0.0000",
                }
            ]
        },
    )


class LeadSourceReport(BaseModel):
    """Leads captured in the period per source and what became of them."""

    period: str
    sources: list[LeadSourceReportSource]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "2026",
                    "sources": [example(LeadSourceReportSource)],
                }
            ]
        },
    )


class LeadPolicy(BaseModel):
    """The lead policy in force: scoring, grade levels, assignment rules, capacity, SLA, pool."""

    version: int
    label: str
    model_version: str
    settings: dict[str, Any]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "version": 0,
                    "label": "policy-v0",
                    "model_version": "scoring-v1",
                    "settings": {
                        "scoring": {
                            "weights": {
                                "need_match": "0.40",
                                "purchasing_power": "0.35",
                                "decision_complexity": "0.25",
                            },
                            "source_weights": {
                                "trade_show": "1.00",
                                "online": "0.90",
                                "referral": "1.20",
                                "partner": "1.10",
                                "cold_call": "0.80",
                                "other": "0.80",
                            },
                            "cutoffs": {"A": "75", "B": "50"},
                        },
                        "grade_levels": {"A": "senior", "B": "mid", "C": "junior"},
                        "rules": [],
                        "capacity": {"junior": 30, "mid": 25, "senior": 20, "manager": 10, "director": 5},
                        "sla": {
                            "first_response_hours": {"A": 4, "B": 24, "C": 48},
                            "follow_up_days": 7,
                            "on_breach": "pool",
                        },
                        "pool": {"cooldown_days": 14},
                        "disqualify_reasons": ["no_budget"],
                    },
                }
            ]
        },
    )


class ScheduledCheck(BaseModel):
    job: str
    schedule: str = Field(description="`off` when not scheduled")
    last_moment: str | None
    last_run_at: str | None
    last_finished_at: str | None
    last_result: dict[str, Any] | None = Field(description="what the last run found, as counts")
    next_run_at: str | None
    last_error: str | None
    last_error_at: str | None
    failures: int = Field(description="failed runs in a row; 0 once a run succeeds again")
    runner: str | None
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "job": "lead_sla",
                    "schedule": "every 15 minutes",
                    "last_moment": "2026-11-30T09:45:00+08:00",
                    "last_run_at": "2026-11-30T01:45:00.120000+00:00",
                    "last_finished_at": "2026-11-30T01:45:00.480000+00:00",
                    "last_result": {"breached": 2, "released": 1},
                    "next_run_at": "2026-11-30T02:00:00+00:00",
                    "last_error": None,
                    "last_error_at": None,
                    "failures": 0,
                    "runner": "app-1:4242:a1b2c3",
                }
            ]
        },
    )


class ScheduledChecks(BaseModel):
    """The checks `salesledger project` runs by itself, with their last run and next run."""

    items: list[ScheduledCheck]
    model_config = ConfigDict(extra="allow", populate_by_name=True, json_schema_extra={"examples": [{"items": []}]})


class LeadTimeline(BaseModel):
    """Every event of a lead, in order, with its metadata."""

    id: str
    version: int
    events: list[EventRecord]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "52420089-6c13-5ddd-8780-5f42c9e1e7a8",
                    "version": 2,
                    "events": [
                        {
                            "position": 112,
                            "type": "LeadScored",
                            "aggregate_id": "52420089-6c13-5ddd-8780-5f42c9e1e7a8",
                            "version": 2,
                            "recorded_at": "2026-12-07T09:21:19.117457+00:00",
                            "actor": "demo",
                            "correlation_id": "demo-2",
                            "causation_id": "demo-2",
                            "data": {
                                "inputs": {"need_match": 2, "purchasing_power": 5, "decision_complexity": 5},
                                "source": "other",
                                "source_weight": "0.80",
                                "model_version": "scoring-v1",
                                "policy_version": "policy-v0",
                                "score": "40.80",
                                "grade": "C",
                                "previous_grade": None,
                            },
                        }
                    ],
                }
            ]
        },
    )
