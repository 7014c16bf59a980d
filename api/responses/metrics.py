"""What the metric routes answer."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MetricInfo(BaseModel):
    """A projection that answers queries at `GET /metrics/{name}`."""

    name: str
    version: int
    description: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "first_contact_lag",
                    "version": 1,
                    "description": "`period` (default: everything): per month of capture and source, leads captured,\n"
                    "        contacted, and the median days to first contact.",
                }
            ]
        },
    )


class MetricAnswer(BaseModel):
    """What a metric projection answers: each defines its own shape (first_contact_lag shown)."""

    metric: str = Field(None)
    period: str | None = Field(None)
    rows: list[dict[str, Any]] = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "metric": "first_contact_lag",
                    "period": "2030-01",
                    "rows": [
                        {
                            "month": "2026-01",
                            "source": "online",
                            "captured": 1,
                            "contacted": 1,
                            "median_days_to_first_contact": "1.00",
                        }
                    ],
                }
            ]
        },
    )
