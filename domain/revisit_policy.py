"""The revisit plan (回访计划): how many days may pass between visits to a customer of each grade.
Versioned like the sales policy; events record the days they set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity
from domain.errors import InvalidInput
from domain.values import Grade, required_text

REVISIT_POLICY_ID: UUID = uuid5(NAMESPACE_URL, "salesledger:revisit-policy")
DEFAULT_REVISIT_DAYS: dict[str, int] = {"A": 30, "B": 60, "C": 90}
MAX_DAYS = 3650


def validate_revisit_days(days: Any, base: dict[str, int] | None = None) -> dict[str, int]:
    """Days between revisits by grade, laid over `base` (default 30/60/90): whole days 1-3650."""
    if not isinstance(days, dict):
        raise InvalidInput("the revisit policy is an object of days by grade", field="policy")
    merged = dict(base or DEFAULT_REVISIT_DAYS)
    for grade, value in days.items():
        Grade.parse(grade, str(grade))
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_DAYS:
            raise InvalidInput(f"{grade} must be a whole number of days from 1 to {MAX_DAYS}", field=str(grade))
        merged[grade] = value
    return {grade.value: merged[grade.value] for grade in Grade}


@dataclass(frozen=True)
class RevisitPolicyView:
    version: int
    days: dict[str, int]

    @classmethod
    def default(cls) -> RevisitPolicyView:
        return cls(0, dict(DEFAULT_REVISIT_DAYS))


class RevisitPolicy(Entity):
    @event("Configured")
    def __init__(self, id: UUID, days: dict[str, int], reason: str) -> None:
        self.days = days
        self.reason = reason

    @classmethod
    def configure_first(cls, days: Any, reason: str) -> RevisitPolicy:
        return cls(id=REVISIT_POLICY_ID, days=validate_revisit_days(days), reason=required_text(reason, "reason"))

    def configure(self, days: Any, reason: str) -> None:
        self._reconfigured(days=validate_revisit_days(days, base=self.days), reason=required_text(reason, "reason"))

    @event("Reconfigured")
    def _reconfigured(self, days: dict[str, int], reason: str) -> None:
        self.days = days
        self.reason = reason

    def view(self) -> RevisitPolicyView:
        return RevisitPolicyView(self.version, self.days)
