"""Customer records: grade, classification, credit, stakeholders, visits, feedback, lifecycle."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeVar
from uuid import UUID, uuid4

from application.base import UseCases, Written
from domain.base import Entity, Meta
from domain.customer import Customer
from domain.rep import Rep

T = TypeVar("T", bound=Entity)


class Customers(UseCases):
    """Customer records: grade, classification, credit, stakeholders, visits, feedback, lifecycle."""

    def register_customer(
        self,
        meta: Meta,
        *,
        name: str,
        region: str,
        industry: str,
        registered_on: date,
        owner_id: str | None = None,
        size_band: str | None = None,
        id: UUID | None = None,
    ) -> Written:
        if owner_id is not None:
            owner_id = str(self._active_rep(owner_id, "owner_id").id)
        customer = Customer.register(
            id or uuid4(),
            name=name,
            region=region,
            industry=industry,
            registered_on=registered_on,
            owner_id=owner_id,
            size_band=size_band,
        )
        return self._written(meta, customer)

    def grade_customer(
        self, meta: Meta, customer_id: str, *, grade: str, reason: str, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta, Customer, customer_id, expected_version, lambda c: c.grade_as(grade=grade, reason=reason)
        )

    def transfer_customer(
        self,
        meta: Meta,
        customer_id: str,
        *,
        owner_id: str,
        reason: str,
        effective_on: date,
        expected_version: int | None = None,
    ) -> Written:
        owner = str(self._active_rep(owner_id, "owner_id").id)
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.transfer_owner(owner_id=owner, reason=reason, effective_on=effective_on),
        )

    def log_visit(
        self,
        meta: Meta,
        customer_id: str,
        *,
        rep_id: str,
        kind: str,
        occurred_at: datetime,
        notes: str | None = None,
        next_step: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        rep = str(self._active_rep(rep_id, "rep_id").id)
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.log_visit(rep_id=rep, kind=kind, occurred_at=occurred_at, notes=notes, next_step=next_step),
        )

    def classify_customer(
        self, meta: Meta, customer_id: str, *, classification: str, reason: str, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.classify(classification=classification, reason=reason),
        )

    def rate_customer_credit(
        self,
        meta: Meta,
        customer_id: str,
        *,
        rating: str,
        limit: object,
        evidence: str,
        rated_on: date,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.rate_credit(rating=rating, limit=limit, evidence=evidence, rated_on=rated_on),
        )

    def add_stakeholder(
        self, meta: Meta, customer_id: str, *, expected_version: int | None = None, **fields: str | None
    ) -> Written:
        stakeholder_id = uuid4().hex
        written = self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.add_stakeholder(stakeholder_id=stakeholder_id, **fields),
        )
        return Written(written.id, written.version, written.position, {"stakeholder_id": stakeholder_id})

    def update_stakeholder(
        self,
        meta: Meta,
        customer_id: str,
        stakeholder_id: str,
        *,
        expected_version: int | None = None,
        **fields: str | None,
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.update_stakeholder(stakeholder_id=stakeholder_id, **fields),
        )

    def remove_stakeholder(
        self, meta: Meta, customer_id: str, stakeholder_id: str, *, reason: str, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.remove_stakeholder(stakeholder_id=stakeholder_id, reason=reason),
        )

    def give_feedback(
        self,
        meta: Meta,
        customer_id: str,
        *,
        score: int,
        given_on: date,
        comment: str | None = None,
        rep_id: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        if rep_id:
            rep_id = str(self.load(Rep, rep_id).id)
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.give_feedback(score=score, comment=comment, given_on=given_on, rep_id=rep_id),
        )

    def churn_customer(
        self, meta: Meta, customer_id: str, *, reason: str, on: date, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.move_lifecycle(
                to="churned", reason=reason, on=on, allowed_from=("prospect", "active", "dormant")
            ),
        )

    def reactivate_customer(
        self, meta: Meta, customer_id: str, *, reason: str, on: date, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.move_lifecycle(to="active", reason=reason, on=on, allowed_from=("dormant", "churned")),
        )

    def mark_dormant(self, meta: Meta, customer_id: str, *, as_of: date, last_activity: date | None) -> int | None:
        """Idempotent: only an active customer with no activity for the policy's days turns dormant."""
        days = self.sales_policy().settings["dormant_after_days"]
        customer = self.load(Customer, customer_id)
        if customer.lifecycle != "active" or (last_activity and (as_of - last_activity).days < days):
            return None
        customer.move_lifecycle(
            to="dormant",
            on=as_of,
            allowed_from=("active",),
            reason=f"no activity for {days} days (last: {last_activity})",
        )
        return self.record(meta, customer)
