"""Exchange rates into the base currency, effective-dated, and the one conversion rule.

A rate says what one unit of a currency is worth in the base currency from a business date on,
until the next rate of that currency takes over. Setting a rate for a day that already has one
supersedes it (a new event; the old one stays in history). Rounding is stated once, here: rates
are kept to 6 decimal places and converted amounts to the cent, both ROUND_HALF_UP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import InvalidInput
from domain.values import base_currency, currency, decimal_number, round_money

RATE_PLACES = Decimal("0.000001")
MAX_RATE = Decimal("1000000")  # one unit worth more than a million base units is a typo


def rate_value(value: object, field: str = "rate") -> Decimal:
    """A rate: greater than zero, at most 1,000,000, rounded to 6 decimal places (ROUND_HALF_UP)."""
    rate = decimal_number(value, field)
    rounded = rate.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
    if rounded <= 0:
        raise InvalidInput(f"{field} must be greater than zero", field=field, value=str(value))
    if rounded > MAX_RATE:
        raise InvalidInput(f"{field} must be at most {MAX_RATE}", field=field, value=str(value))
    return rounded


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """An amount in base currency: amount x rate, to the cent, ROUND_HALF_UP."""
    return round_money(amount * rate)


def fx_id(code: str) -> UUID:
    """One rate book per currency, found by its code."""
    return uuid5(NAMESPACE_URL, f"salesledger:fx:{code}")


@dataclass(frozen=True)
class Rate:
    """A rate in force: what one unit of `currency` is worth in base currency from `effective_on`,
    as set by the event at store `position`."""

    currency: str
    rate: Decimal
    effective_on: date
    position: int

    def explain(self) -> dict[str, str | int]:
        return {
            "currency": self.currency,
            "rate": str(self.rate),
            "effective_on": self.effective_on.isoformat(),
            "position": self.position,
        }


class FxRates(Entity):
    """The rate book of one foreign currency."""

    @event("Listed")
    def __init__(self, id: UUID, currency: str) -> None:
        self.currency = currency
        self.rates: dict[str, str] = {}

    @classmethod
    def list_currency(cls, code: object) -> FxRates:
        found = currency(str(code) if code is not None else "", "currency") if code else None
        if found is None:
            raise InvalidInput("currency is required", field="currency")
        if found == base_currency():
            raise InvalidInput(
                f"currency {found} is the base currency: its rate is 1 by definition", field="currency", value=found
            )
        return cls(id=fx_id(found), currency=found)

    def set_rate(self, rate: object, effective_on: object) -> None:
        day = business_date(effective_on, "effective_on")
        self._rate_set(currency=self.currency, rate=rate_value(rate), effective_on=day)

    @event("RateSet")
    def _rate_set(self, currency: str, rate: Decimal, effective_on: date) -> None:
        self.rates[effective_on.isoformat()] = str(rate)
