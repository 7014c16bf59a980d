"""Field types shared by the request models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from domain.values import CONTROL_CHARACTERS, DECIMAL_PATTERN, EARLIEST, INVISIBLE_CHARACTERS, LATEST


def _decimal_text(value: Any) -> Any:
    if isinstance(value, (bool, float)):
        raise ValueError('send decimals as strings, e.g. "1100.00" (floats lose cents)')
    if isinstance(value, int):
        return str(value)
    return value


# Decimal amounts, shares and counts: ASCII digits only (the rule of domain.values.decimal_number).
Amount = Annotated[
    str, BeforeValidator(_decimal_text), Field(examples=["1100.00"], max_length=40, pattern=DECIMAL_PATTERN)
]
# No control characters (tabs and newlines are fine), no bidi controls, no zero-width characters.
NO_CONTROL = f"^[^{CONTROL_CHARACTERS}{INVISIBLE_CHARACTERS}]*$"
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=NO_CONTROL)]
OptionalText = Annotated[str | None, Field(default=None, max_length=2000, pattern=NO_CONTROL)]


class Body(BaseModel):
    """Request bodies refuse unknown fields so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


VersionParam = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="the aggregate's state at this version")]
FilterText = Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL)]
DisplayCurrency = Annotated[
    str | None,
    Query(
        min_length=3,
        max_length=3,
        description="show money in this currency instead of the base one, at its rate (POST /fx-rates) on the "
        "query's date; unknown or unrated currencies are 422",
    ),
]
Position = Annotated[int, Query(ge=0, le=2**62)]


def _sane_date(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}")
    return value


def _sane_moment(value: datetime) -> datetime:
    _sane_date(value.date())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


SaneDate = Annotated[date, AfterValidator(_sane_date)]
SaneMoment = Annotated[datetime, AfterValidator(_sane_moment)]  # naive input is taken as UTC
AsOfParam = Annotated[SaneMoment | None, Query(description="the aggregate's state at this recording time (ISO)")]
DateField = Annotated[SaneDate | None, Field(default=None, description="business date, YYYY-MM-DD")]
Today = Annotated[
    SaneDate, Field(default_factory=date.today, description="business date, YYYY-MM-DD; defaults to today")
]


class Receipt(BaseModel):
    """What every command answers: the record, its new version and the store position of the
    last event written (pass it as `min_position` to read your own write). Commands add fields."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int
    position: int
