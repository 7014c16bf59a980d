"""The Customer aggregate: the central record of an organisation we sell to."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput
from domain.values import Grade, VisitKind, optional_text, required_text


class Customer(Entity):
    @event("Registered")
    def __init__(self, id: UUID, name: str, region: str, industry: str, owner_id: str | None,
                 size_band: str | None, registered_on: date, lead_id: str | None = None) -> None:
        self.name = name
        self.region = region
        self.industry = industry
        self.owner_id = owner_id
        self.size_band = size_band
        self.registered_on = registered_on
        self.lead_ids = [lead_id] if lead_id else []
        self.lifecycle = "prospect"
        self.grade: str | None = None
        self.grade_history: list[dict] = []
        self.owner_history: list[dict] = []
        self.visits: list[dict] = []

    @classmethod
    def register(cls, id: UUID, *, name: str, region: str, industry: str, registered_on: date,
                 owner_id: str | None = None, size_band: str | None = None, lead_id: str | None = None) -> Customer:
        return cls(
            id=id,
            name=required_text(name, "name", max_length=300),
            region=required_text(region, "region", max_length=200),
            industry=required_text(industry, "industry", max_length=200),
            owner_id=optional_text(owner_id, "owner_id"),
            size_band=optional_text(size_band, "size_band", max_length=50),
            registered_on=business_date(registered_on, "registered_on"),
            lead_id=lead_id,
        )

    # -- commands ------------------------------------------------------------------------------
    def grade_as(self, *, grade: str, reason: str) -> None:
        to = Grade.parse(grade, "grade")
        reason = required_text(reason, "reason")
        if to == self.grade:
            raise Conflict(f"the customer is already graded {to}", code="grade_unchanged")
        self._graded(from_grade=self.grade, to_grade=to, reason=reason)

    @event("Graded")
    def _graded(self, from_grade: str | None, to_grade: str, reason: str) -> None:
        self.grade = to_grade
        self.grade_history.append({"from": from_grade, "to": to_grade, "reason": reason})

    def transfer_owner(self, *, owner_id: str, reason: str, effective_on: date) -> None:
        owner_id = required_text(owner_id, "owner_id")
        reason = required_text(reason, "reason")
        if owner_id == self.owner_id:
            raise Conflict("the customer already has this owner", code="owner_unchanged")
        self._owner_transferred(from_owner=self.owner_id, to_owner=owner_id, reason=reason,
                                effective_on=business_date(effective_on, "effective_on"))

    @event("OwnerTransferred")
    def _owner_transferred(self, from_owner: str | None, to_owner: str, reason: str, effective_on: date) -> None:
        self.owner_id = to_owner
        self.owner_history.append({"from": from_owner, "to": to_owner, "reason": reason,
                                   "effective_on": effective_on})

    def log_visit(self, *, rep_id: str, kind: str, occurred_at: datetime, notes: str | None = None,
                  next_step: str | None = None) -> None:
        if not isinstance(occurred_at, datetime):
            raise InvalidInput("occurred_at must be a date-time", field="occurred_at")
        self._visit_logged(rep_id=required_text(rep_id, "rep_id"), kind=VisitKind.parse(kind, "kind"),
                           occurred_at=occurred_at, notes=optional_text(notes, "notes"),
                           next_step=optional_text(next_step, "next_step"))

    @event("VisitLogged")
    def _visit_logged(self, rep_id: str, kind: str, occurred_at: datetime, notes: str | None,
                      next_step: str | None) -> None:
        self.visits.append({"rep_id": rep_id, "kind": kind, "occurred_at": occurred_at, "notes": notes,
                            "next_step": next_step})

    def link_lead(self, *, lead_id: str) -> None:
        """A converted lead turned out to be this existing customer."""
        if lead_id not in self.lead_ids:
            self._lead_linked(lead_id=lead_id)

    @event("LeadLinked")
    def _lead_linked(self, lead_id: str) -> None:
        self.lead_ids = [*self.lead_ids, lead_id]
