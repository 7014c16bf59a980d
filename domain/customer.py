"""The Customer aggregate: the central record of an organisation we sell to."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.values import optional_text, required_text


class Customer(Entity):
    @event("Registered")
    def __init__(self, id: UUID, name: str, region: str, industry: str, owner_id: str | None,
                 size_band: str | None, registered_on: date) -> None:
        self.name = name
        self.region = region
        self.industry = industry
        self.owner_id = owner_id
        self.size_band = size_band
        self.registered_on = registered_on
        self.lifecycle = "prospect"
        self.grade: str | None = None

    @classmethod
    def register(cls, id: UUID, *, name: str, region: str, industry: str, registered_on: date,
                 owner_id: str | None = None, size_band: str | None = None) -> Customer:
        return cls(
            id=id,
            name=required_text(name, "name", max_length=300),
            region=required_text(region, "region", max_length=200),
            industry=required_text(industry, "industry", max_length=200),
            owner_id=optional_text(owner_id, "owner_id"),
            size_band=optional_text(size_band, "size_band", max_length=50),
            registered_on=business_date(registered_on, "registered_on"),
        )
