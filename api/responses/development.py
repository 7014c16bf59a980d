"""What the rep development routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict

from api.responses import example


class Training(BaseModel):
    position: int
    rep_id: str
    course: str
    topic: str
    completed_on: dt.date
    hours: str
    score: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "position": 796,
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "course": "ERP 基础",
                    "topic": "product",
                    "completed_on": "2026-03-01",
                    "hours": "5.00",
                    "score": "90.00",
                }
            ]
        },
    )


class RepTrainings(BaseModel):
    """A rep's trainings by completion date."""

    rep_id: str
    items: list[Training]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "items": [example(Training)],
                }
            ]
        },
    )


class Review(BaseModel):
    position: int
    rep_id: str
    period: str
    rating: int
    strengths: str
    improvements: str
    reviewer_id: str
    reviewed_on: dt.date
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "position": 797,
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "period": "2026-11",
                    "rating": 4,
                    "strengths": "客户关系好",
                    "improvements": "回款跟进",
                    "reviewer_id": "755fef13-1958-5fda-a517-9110add3cc4a",
                    "reviewed_on": "2026-12-07",
                }
            ]
        },
    )


class RepReviews(BaseModel):
    """A rep's periodic reviews."""

    rep_id: str
    items: list[Review]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "items": [example(Review)],
                }
            ]
        },
    )


class Recognition(BaseModel):
    position: int
    rep_id: str
    title: str
    awarded_on: dt.date
    reason: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "position": 798,
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "title": "本月最佳销售",
                    "awarded_on": "2026-03-05",
                    "reason": "回款第一",
                }
            ]
        },
    )


class RepRecognitions(BaseModel):
    """A rep's recognitions by date."""

    rep_id: str
    items: list[Recognition]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "items": [example(Recognition)],
                }
            ]
        },
    )


class RepDevelopment(BaseModel):
    """A rep's trainings (with hours in total and by topic), reviews and recognitions."""

    rep_id: str
    trainings: list[Training]
    training_hours: str
    training_hours_by_topic: dict[str, str]
    reviews: list[Review]
    recognitions: list[Recognition]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "trainings": [example(Training)],
                    "training_hours": "5.00",
                    "training_hours_by_topic": {
                        "product": "5.00",
                        "sales_skills": "0.00",
                        "service": "0.00",
                        "compliance": "0.00",
                    },
                    "reviews": [example(Review)],
                    "recognitions": [example(Recognition)],
                }
            ]
        },
    )
