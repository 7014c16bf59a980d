"""Customer records: grade, classification, credit, stakeholders, visits, feedback, lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from application import clock
from application.base import UseCases, Written
from application.reads import ReadModels
from domain.base import Entity, Meta
from domain.customer import Customer
from domain.errors import InvalidInput, NotFound
from domain.rep import Rep
from domain.revisit_policy import REVISIT_POLICY_ID, RevisitPolicy, RevisitPolicyView
from domain.values import sane_date
from infrastructure.store import EventStore
from projections.accounts import customer_accounts, dormancy_candidates
from projections.deliveries import customer_delivery
from projections.revisits import customer_revisit, overdue_revisits

T = TypeVar("T", bound=Entity)


@dataclass(frozen=True)
class CheckDormancy:
    """Turn dormant the active customers quiet for the sales policy's days, as of `as_of`
    (default: the organisation's today; never later)."""

    as_of: date | None = None


@dataclass(frozen=True)
class NowDormant:
    customer_id: str
    last_activity_on: date | None
    position: int


@dataclass(frozen=True)
class DormancyCheckResult:
    as_of: date
    dormant_after_days: int
    checked: int
    now_dormant: list[NowDormant]


@dataclass(frozen=True)
class CheckRevisits:
    """Record, as of `as_of` (default: the organisation's today; never later), every revisit the
    revisit plan had due before that day and that has not happened."""

    as_of: date | None = None


@dataclass(frozen=True)
class OverdueRevisit:
    customer_id: str
    owner_id: str | None
    grade: str
    due_on: date
    last_visit_on: date | None
    position: int


@dataclass(frozen=True)
class RevisitCheckResult:
    as_of: date
    checked: int
    now_overdue: list[OverdueRevisit]


@dataclass(frozen=True)
class Customer360:
    """The customer record with its deals, payments, last activity, exposure and receivable."""

    view: dict[str, Any]
    version: int


class Customers(UseCases):
    """Customer records: grade, classification, credit, stakeholders, visits, feedback, lifecycle."""

    def __init__(self, store: EventStore, reads: ReadModels) -> None:
        super().__init__(store)
        self.reads = reads

    def customer_360(self, customer_id: str) -> Customer360:
        """Profile, grade, classification and credit history, stakeholders, visits, feedback and
        lifecycle (from the aggregate) with deals and payments (from the accounts read model, as
        far as it has got: callers wanting their own writes wait for the position first)."""
        customer = self.load(Customer, customer_id)
        with self.reads.read() as tx:
            today = clock.today()
            accounts = customer_accounts(tx, str(customer.id), today)
            delivery = customer_delivery(tx, str(customer.id), today)
            revisit = customer_revisit(tx, str(customer.id), today)
        view = customer.as_dict()
        view["stakeholders"] = list(view["stakeholders"].values())
        plan = {"next_revisit_due": revisit and revisit["next_revisit_due"], "revisit": revisit}
        return Customer360(view={**view, **accounts, "delivery": delivery, **plan}, version=customer.version)

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
        self,
        meta: Meta,
        customer_id: str,
        *,
        name: str,
        role: str,
        title: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        notes: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        stakeholder_id = uuid4().hex
        written = self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.add_stakeholder(
                stakeholder_id=stakeholder_id, name=name, role=role, title=title, phone=phone, email=email, notes=notes
            ),
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

    def check_dormancy(self, cmd: CheckDormancy, meta: Meta) -> DormancyCheckResult:
        """Active customers without activity for the sales policy's `dormant_after_days` become
        dormant. Idempotent. An `as_of` after the organisation's today is refused (422)."""
        today = clock.today()
        as_of = today if cmd.as_of is None else sane_date(cmd.as_of, "as_of")
        if as_of > today:
            raise InvalidInput(
                "as_of is in the future: dormancy is checked on a day that has come",
                field="as_of",
                value=as_of.isoformat(),
                today=today.isoformat(),
            )
        days = self.sales_policy().settings["dormant_after_days"]
        with self.reads.current("accounts") as tx:
            candidates = dormancy_candidates(tx, as_of=as_of, days=days)
        dormant = [
            NowDormant(customer_id, last, position)
            for customer_id, last in candidates
            if (position := self._mark_dormant(meta, customer_id, as_of=as_of, days=days, last_activity=last))
        ]
        return DormancyCheckResult(as_of=as_of, dormant_after_days=days, checked=len(candidates), now_dormant=dormant)

    def _mark_dormant(
        self, meta: Meta, customer_id: str, *, as_of: date, days: int, last_activity: date | None
    ) -> int | None:
        """Idempotent: only an active customer with no activity for `days` turns dormant."""
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

    # -- the revisit plan (回访计划) --------------------------------------------------------------
    def revisit_policy(self) -> RevisitPolicyView:
        try:
            return self.load(RevisitPolicy, REVISIT_POLICY_ID).view()
        except NotFound:
            return RevisitPolicyView.default()

    def configure_revisit_policy(self, meta: Meta, *, days: dict[str, Any], reason: str) -> Written:
        """Days between revisits by grade (those not given keep their value)."""
        if not days:
            raise InvalidInput("give the days between revisits for at least one grade (A, B, C)", field="policy")
        try:
            policy = self.load(RevisitPolicy, REVISIT_POLICY_ID)
            policy.configure(days, reason)
        except NotFound:
            policy = RevisitPolicy.configure_first(days, reason)
        return self._written(meta, policy, days=policy.days)

    def check_revisits(self, cmd: CheckRevisits, meta: Meta) -> RevisitCheckResult:
        """Each customer whose revisit was due before `as_of` and has not happened gets a
        `CustomerRevisitOverdue` event. Idempotent. An `as_of` after today is refused (422)."""
        today = clock.today()
        as_of = today if cmd.as_of is None else sane_date(cmd.as_of, "as_of")
        if as_of > today:
            raise InvalidInput(
                "as_of is in the future: revisits are checked on a day that has come",
                field="as_of",
                value=as_of.isoformat(),
                today=today.isoformat(),
            )
        with self.reads.current("revisits") as tx:
            candidates = overdue_revisits(tx, as_of=as_of)
        found: list[OverdueRevisit] = []
        for c in candidates:
            customer = self.load(Customer, c["customer_id"])
            last = None if c["last_visit_on"] is None else date.fromisoformat(c["last_visit_on"])
            if customer.record_revisit_overdue(
                due_on=c["next_revisit_due"], as_of=as_of, grade=c["grade"], days=c["days"], last_visit_on=last
            ):
                position = self.record(meta, customer)
                found.append(
                    OverdueRevisit(c["customer_id"], c["owner_id"], c["grade"], c["next_revisit_due"], last, position)
                )
        return RevisitCheckResult(as_of=as_of, checked=len(candidates), now_overdue=found)
