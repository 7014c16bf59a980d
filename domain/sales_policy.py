"""The sales policy: stage probabilities, loss reasons, payment terms and when a customer
turns dormant. Versioned like the lead policy; events record the values they applied."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity
from domain.errors import InvalidInput
from domain.settings import overlay
from domain.values import DEFAULT_STAGE_PROBABILITIES, OPEN_STAGES, required_text

SALES_POLICY_ID: UUID = uuid5(NAMESPACE_URL, "salesledger:sales-policy")

DEFAULT_SALES_POLICY: dict[str, Any] = {
    "stage_probabilities": {stage: str(p) for stage, p in DEFAULT_STAGE_PROBABILITIES.items()},
    "loss_reasons": ["price", "competitor", "no_budget", "timing", "no_decision", "requirements", "relationship"],
    "payment_terms_days": 30,
    "dormant_after_days": 90,
}


def validate_sales_policy(settings: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    merged = overlay(base or DEFAULT_SALES_POLICY, settings)
    probabilities = {}
    for stage in OPEN_STAGES:
        raw = merged["stage_probabilities"].get(stage)
        try:
            p = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            p = Decimal(-1)
        if isinstance(raw, float) or not p.is_finite() or not 0 <= p <= 1:
            raise InvalidInput(
                f"stage_probabilities.{stage} must be a decimal string from 0 to 1",
                field=f"stage_probabilities.{stage}",
            )
        probabilities[stage] = str(p)
    reasons = merged["loss_reasons"]
    if not isinstance(reasons, list) or not reasons:
        raise InvalidInput("loss_reasons must be a non-empty list", field="loss_reasons")
    days = {}
    for key, high in (("payment_terms_days", 3650), ("dormant_after_days", 3650)):
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= high:
            raise InvalidInput(f"{key} must be a whole number of days from 1 to {high}", field=key)
        days[key] = value
    return {
        "stage_probabilities": probabilities,
        "loss_reasons": [required_text(r, "loss_reasons", max_length=100) for r in reasons],
        **days,
    }


@dataclass(frozen=True)
class SalesPolicyView:
    version: int
    settings: dict[str, Any]

    @classmethod
    def default(cls) -> SalesPolicyView:
        return cls(0, validate_sales_policy({}))

    def probability(self, stage: str) -> Decimal:
        return Decimal(self.settings["stage_probabilities"][stage])


class SalesPolicy(Entity):
    @event("Configured")
    def __init__(self, id: UUID, settings: dict[str, Any], reason: str) -> None:
        self.settings = settings
        self.reason = reason

    @classmethod
    def configure_first(cls, settings: Any, reason: str) -> SalesPolicy:
        return cls(id=SALES_POLICY_ID, settings=validate_sales_policy(settings), reason=required_text(reason, "reason"))

    def configure(self, settings: Any, reason: str) -> None:
        self._reconfigured(
            settings=validate_sales_policy(settings, base=self.settings), reason=required_text(reason, "reason")
        )

    @event("Reconfigured")
    def _reconfigured(self, settings: dict[str, Any], reason: str) -> None:
        self.settings = settings
        self.reason = reason

    def view(self) -> SalesPolicyView:
        return SalesPolicyView(self.version, self.settings)
