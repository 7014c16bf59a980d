"""Field types shared by the request models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _decimal_text(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("send decimals as strings, e.g. \"1100.00\" (floats lose cents)")
    if isinstance(value, int):
        return str(value)
    return value


Amount = Annotated[str, BeforeValidator(_decimal_text), Field(examples=["1100.00"], max_length=40)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
OptionalText = Annotated[str | None, Field(default=None, max_length=2000)]


class Body(BaseModel):
    """Request bodies refuse unknown fields so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


VersionParam = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="the aggregate's state at this version")]
FilterText = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Position = Annotated[int, Query(ge=0, le=2**62)]
AsOfParam = Annotated[datetime | None, Query(description="the aggregate's state at this recording time (ISO)")]
DateField = Annotated[date | None, Field(default=None, description="business date, YYYY-MM-DD")]
Today = Annotated[date, Field(default_factory=date.today, description="business date, YYYY-MM-DD; defaults to today")]
