"""The Lead aggregate: a prospective customer captured from a source, before conversion."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.values import LeadSource, optional_text, required_text

CONTACT_FIELDS = ("contact_name", "phone", "email", "wechat_id", "size_band", "product_line", "notes")


class Lead(Entity):
    @event("Captured")
    def __init__(self, id: UUID, company: str, source: str, region: str, industry: str,
                 contact: dict[str, str | None], captured_on: date) -> None:
        self.company = company
        self.source = source
        self.region = region
        self.industry = industry
        self.contact = contact
        self.captured_on = captured_on
        self.status = "open"
        self.duplicate_of: str | None = None

    @classmethod
    def capture(cls, id: UUID, *, company: str, source: str, region: str, industry: str,
                captured_on: date, **contact: str | None) -> Lead:
        unknown = set(contact) - set(CONTACT_FIELDS)
        if unknown:
            raise TypeError(f"unknown lead fields: {sorted(unknown)}")
        return cls(
            id=id,
            company=required_text(company, "company", max_length=300),
            source=LeadSource.parse(source, "source"),
            region=required_text(region, "region", max_length=200),
            industry=required_text(industry, "industry", max_length=200),
            contact={k: optional_text(contact.get(k), k) for k in CONTACT_FIELDS},
            captured_on=business_date(captured_on, "captured_on"),
        )
