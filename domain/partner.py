"""Channel partners (渠道) and the development of channel staff.

A Partner is a distributor, agent or reseller that sells for the organisation; its staff are
reps hired into it or transferred to it (the rep's org timeline carries `partner_id`). What the
source guide asks of channel staff management — training, periodic evaluation with feedback,
recognition — is recorded as events of the rep (domain.rep); the vocabularies and the input
rules they share live here."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import InvalidInput
from domain.values import Choice, decimal_number, required_text

MAX_TRAINING_HOURS = Decimal("1000")  # one course; beyond this it is a typo
RATINGS = range(1, 6)  # review ratings 1 (poor) .. 5 (excellent)


class PartnerKind(Choice):
    DISTRIBUTOR = "distributor"
    AGENT = "agent"
    RESELLER = "reseller"


class TrainingTopic(Choice):
    """What a training taught: product knowledge, selling skill, service or compliance."""

    PRODUCT = "product"
    SALES_SKILLS = "sales_skills"
    SERVICE = "service"
    COMPLIANCE = "compliance"


def training_hours(value: object, field: str = "hours") -> Decimal:
    """Hours of a training: more than zero, at most 1000, at most two decimal places."""
    hours = decimal_number(value, field)
    if hours <= 0:
        raise InvalidInput(f"{field} must be greater than zero", field=field, value=str(value))
    if hours > MAX_TRAINING_HOURS:
        raise InvalidInput(f"{field} must be at most {MAX_TRAINING_HOURS}", field=field, value=str(value))
    if hours != hours.quantize(Decimal("0.01")):
        raise InvalidInput(f"{field} has more than two decimal places", field=field, value=str(value))
    return hours.quantize(Decimal("0.01"))


def training_score(value: object, field: str = "score") -> Decimal | None:
    """An optional exam score from 0 to 100, at most two decimal places."""
    if value is None:
        return None
    score = decimal_number(value, field)
    if not Decimal(0) <= score <= Decimal(100) or score != score.quantize(Decimal("0.01")):
        raise InvalidInput(f"{field} must be between 0 and 100 (two decimals at most)", field=field, value=str(value))
    return score.quantize(Decimal("0.01"))


def review_rating(value: object, field: str = "rating") -> int:
    """A review rating: a whole number from 1 to 5."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{field} must be a whole number from 1 to 5", field=field, value=str(value))
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or int(text) not in RATINGS:
        raise InvalidInput(f"{field} must be a whole number from 1 to 5", field=field, value=str(value))
    return int(text)


class Partner(Entity):
    @event("Registered")
    def __init__(self, id: UUID, name: str, kind: str, region: str, registered_on: date | None = None) -> None:
        self.name = name
        self.kind = kind
        self.region = region
        self.registered_on = registered_on

    @classmethod
    def register(
        cls, id: UUID, *, name: object, kind: object, region: object, registered_on: date | None = None
    ) -> Partner:
        return cls(
            id=id,
            name=required_text(name, "name", max_length=200),
            kind=PartnerKind.parse(kind, "kind"),
            region=required_text(region, "region", max_length=200),
            registered_on=None if registered_on is None else business_date(registered_on, "registered_on"),
        )
