"""What every salesledger aggregate shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput
from domain.values import sane_date


@dataclass(frozen=True)
class Meta:
    """Who asked for a change, and in answer to which request: stamped on every event recorded."""

    actor: str = "system"
    correlation_id: str = ""
    causation_id: str = ""


class Entity(Aggregate):
    """An aggregate whose public state is its attributes without a leading underscore."""

    def as_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return {"id": str(self.id), "version": self.version, **state}


def event_type(event: object) -> str:
    """Public name of an event: 'Deal.Won' -> 'DealWon' (past tense, aggregate first)."""
    return type(event).__qualname__.replace(".", "")


def business_date(value: object, field: str) -> date:
    if not isinstance(value, date):
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD)", field=field)
    return sane_date(value, field)
