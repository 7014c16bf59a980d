"""What the channel partner routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example
from api.responses.development import Recognition, Review
from api.responses.fx import CurrencyAmount
from api.responses.performance import KpiMetric


class PartnerPageItem(BaseModel):
    partner_id: str
    name: str
    kind: str
    region: str
    registered_on: dt.date | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "596d4deb-7391-4f59-a03b-c9c5de65b59d",
                    "name": "华东渠道 A",
                    "kind": "distributor",
                    "region": "华东",
                    "registered_on": None,
                }
            ]
        },
    )


class PartnerPage(BaseModel):
    """Channel partners (渠道) by id; `next` is the cursor for the following page."""

    items: list[PartnerPageItem]
    next: str | None = Field(description="pass as `after` for the following page; null on the last page")
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "items": [example(PartnerPageItem)],
                    "next": None,
                }
            ]
        },
    )


class PartnerScorecardStaffItemLatestReview(BaseModel):
    period: str
    rating: int
    reviewer_id: str
    reviewed_on: dt.date
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-03",
                    "rating": 3,
                    "reviewer_id": "16dff177-5c47-50f1-9019-efdaa20ea020",
                    "reviewed_on": "2026-12-07",
                }
            ]
        },
    )


class PartnerScorecardStaffItem(BaseModel):
    rep_id: str
    name: str | None
    level: str | None
    team: str | None
    region: str | None
    revenue: str
    collections: str
    training_hours: str
    latest_review: PartnerScorecardStaffItemLatestReview | None = Field(description="null: not reviewed yet")
    recognitions: int
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "ce95dbf2-f3d8-4e93-b0b9-4ad73b4f8c1c",
                    "name": "渠道销售 陈",
                    "level": "junior",
                    "team": "渠道一组",
                    "region": "华东",
                    "revenue": "0.00",
                    "collections": "0.00",
                    "training_hours": "4.00",
                    "latest_review": {
                        "period": "2026-03",
                        "rating": 3,
                        "reviewer_id": "16dff177-5c47-50f1-9019-efdaa20ea020",
                        "reviewed_on": "2026-12-07",
                    },
                    "recognitions": 1,
                }
            ]
        },
    )


class ActualVsTarget(BaseModel):
    """Actual against target, in base currency."""

    actual: str
    target: str | None
    attainment: str | None
    unconverted: list[CurrencyAmount] = Field(
        None, description="amounts no exchange rate converts yet: never summed in"
    )
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"actual": "0.00", "target": None, "attainment": None}]},
    )


class PartnerScorecard(BaseModel):
    """A channel partner's scorecard for a period: staff, revenue and collections against target,
    KPIs, training hours, reviews and recognitions."""

    partner_id: str
    name: str
    kind: str
    region: str
    registered_on: dt.date | None
    id: str
    scope: str
    period: str
    as_of: dt.date
    currency: str = Field(description="the base currency the money is in")
    staff_count: int
    staff: list[PartnerScorecardStaffItem]
    revenue: ActualVsTarget
    collections: ActualVsTarget
    collection_rate: str | None
    metrics: list[KpiMetric]
    training_hours: str
    training_hours_by_topic: dict[str, str]
    trainings: int
    latest_reviews: list[Review]
    average_rating: str | None
    recognitions: list[Recognition]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "partner_id": "596d4deb-7391-4f59-a03b-c9c5de65b59d",
                    "name": "华东渠道 A",
                    "kind": "distributor",
                    "region": "华东",
                    "registered_on": None,
                    "id": "596d4deb-7391-4f59-a03b-c9c5de65b59d",
                    "scope": "partner:596d4deb-7391-4f59-a03b-c9c5de65b59d",
                    "period": "2026-03",
                    "as_of": "2026-03-31",
                    "currency": "CNY",
                    "staff_count": 1,
                    "staff": [example(PartnerScorecardStaffItem)],
                    "revenue": {"actual": "0.00", "target": None, "attainment": None},
                    "collections": {"actual": "0.00", "target": None, "attainment": None},
                    "collection_rate": None,
                    "metrics": [
                        {
                            "metric": "revenue",
                            "target": None,
                            "actual": "0.00",
                            "attainment": None,
                            "target_source": None,
                        }
                    ],
                    "training_hours": "4.00",
                    "training_hours_by_topic": {
                        "product": "4.00",
                        "sales_skills": "0.00",
                        "service": "0.00",
                        "compliance": "0.00",
                    },
                    "trainings": 1,
                    "latest_reviews": [
                        {
                            "position": 830,
                            "rep_id": "ce95dbf2-f3d8-4e93-b0b9-4ad73b4f8c1c",
                            "period": "2026-03",
                            "rating": 3,
                            "strengths": "勤奋",
                            "improvements": "产品知识",
                            "reviewer_id": "16dff177-5c47-50f1-9019-efdaa20ea020",
                            "reviewed_on": "2026-12-07",
                        }
                    ],
                    "average_rating": "3.0000",
                    "recognitions": [
                        {
                            "position": 831,
                            "rep_id": "ce95dbf2-f3d8-4e93-b0b9-4ad73b4f8c1c",
                            "title": "渠道新星",
                            "awarded_on": "2026-03-20",
                            "reason": "首单",
                        }
                    ],
                }
            ]
        },
    )
