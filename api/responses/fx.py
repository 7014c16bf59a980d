"""What the exchange rate routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class RateOut(BaseModel):
    currency: str = Field(examples=["USD"])
    rate: str = Field(examples=["7.123400"], description="one unit of `currency` in base currency, 6 decimals")
    effective_on: dt.date
    position: int = Field(description="the store position of the event that set it")
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"currency": "USD", "rate": "7.095000", "effective_on": "2026-08-01", "position": 164}]
        },
    )


class Rates(BaseModel):
    base_currency: str = Field(examples=["CNY"])
    as_of: dt.date | None = None
    items: list[RateOut]
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "base_currency": "CNY",
                    "as_of": "2026-09-30",
                    "items": [
                        {"currency": "EUR", "rate": "7.742000", "effective_on": "2026-07-01", "position": 160},
                        {"currency": "USD", "rate": "7.095000", "effective_on": "2026-08-01", "position": 164},
                    ],
                }
            ]
        },
    )


class DisplayRate(BaseModel):
    """The rate the money is shown at when `display_currency` is asked for, and the day it is read on."""

    currency: str
    rate: str | None
    effective_on: dt.date
    position: int
    on: dt.date
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "currency": "USD",
                    "rate": "7.185000",
                    "effective_on": "2026-03-01",
                    "position": 163,
                    "on": "2026-06-30",
                }
            ]
        },
    )


class CurrencyAmount(BaseModel):
    """An amount in a currency with no rate to the base currency on its date: counted, never summed in."""

    currency: str
    amount: str
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"currency": "USD", "amount": "12000.00"}]},
    )
