"""The Customer aggregate: the central record of an organisation we sell to."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput, NotFound
from domain.personal import Personal, from_clear, personal, plain
from domain.values import Choice, Grade, VisitKind, money, optional_text, required_text


class Classification(Choice):
    KEY = "key"
    GENERAL = "general"
    POTENTIAL = "potential"


class CreditRating(Choice):
    AAA = "AAA"
    AA = "AA"
    A = "A"
    BBB = "BBB"
    BB = "BB"
    B = "B"
    C = "C"


class StakeholderRole(Choice):
    DECISION_MAKER = "decision_maker"
    INFLUENCER = "influencer"
    USER = "user"
    FINANCE = "finance"
    PROCUREMENT = "procurement"


class Credit(TypedDict):
    """The customer's credit rating in force (and each entry of its history)."""

    rating: str
    limit: Decimal
    evidence: str
    rated_on: date


class StakeholderDetails(TypedDict):
    """A stakeholder's details as recorded; the people-identifying ones are personal data."""

    name: Personal | None
    role: str
    title: str | None
    phone: Personal | None
    email: Personal | None
    notes: Personal | None


class Customer(Entity):
    @event("Registered")
    def __init__(
        self,
        id: UUID,
        name: str,
        region: str,
        industry: str,
        owner_id: str | None,
        size_band: str | None,
        registered_on: date,
        lead_id: str | None = None,
        external_id: str | None = None,
    ) -> None:
        self.name = name
        self.external_id = external_id  # the customer's id in the CRM it was imported from
        self.region = region
        self.industry = industry
        self.owner_id = owner_id
        self.size_band = size_band
        self.registered_on = registered_on
        self.lead_ids = [lead_id] if lead_id else []
        self.lifecycle = "prospect"
        self.lifecycle_history: list[dict[str, Any]] = []
        self.grade: str | None = None
        self.classification: str | None = None
        self.credit: Credit | None = None
        self.credit_history: list[Credit] = []
        self.stakeholders: dict[str, dict[str, Any]] = {}  # StakeholderDetails plus its stakeholder_id
        self.feedback: list[dict[str, Any]] = []
        self.grade_history: list[dict[str, Any]] = []
        self.owner_history: list[dict[str, Any]] = []
        self.visits: list[dict[str, Any]] = []
        self.overdue_revisits: list[dict[str, Any]] = []  # recorded by the scheduled revisit check

    @classmethod
    def register(
        cls,
        id: UUID,
        *,
        name: str,
        region: str,
        industry: str,
        registered_on: date,
        owner_id: str | None = None,
        size_band: str | None = None,
        lead_id: str | None = None,
        external_id: str | None = None,
    ) -> Customer:
        return cls(
            id=id,
            name=required_text(name, "name", max_length=300),
            region=required_text(region, "region", max_length=200),
            industry=required_text(industry, "industry", max_length=200),
            owner_id=optional_text(owner_id, "owner_id"),
            size_band=optional_text(size_band, "size_band", max_length=50),
            registered_on=business_date(registered_on, "registered_on"),
            lead_id=lead_id,
            external_id=optional_text(external_id, "external_id", max_length=200),
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
        self._owner_transferred(
            from_owner=self.owner_id,
            to_owner=owner_id,
            reason=reason,
            effective_on=business_date(effective_on, "effective_on"),
        )

    @event("OwnerTransferred")
    def _owner_transferred(self, from_owner: str | None, to_owner: str, reason: str, effective_on: date) -> None:
        self.owner_id = to_owner
        self.owner_history.append({"from": from_owner, "to": to_owner, "reason": reason, "effective_on": effective_on})

    def log_visit(
        self, *, rep_id: str, kind: str, occurred_at: datetime, notes: str | None = None, next_step: str | None = None
    ) -> None:
        if not isinstance(occurred_at, datetime):
            raise InvalidInput("occurred_at must be a date-time", field="occurred_at")
        self._visit_logged(
            rep_id=required_text(rep_id, "rep_id"),
            kind=VisitKind.parse(kind, "kind"),
            occurred_at=occurred_at,
            notes=personal(str(self.id), optional_text(notes, "notes")),
            next_step=personal(str(self.id), optional_text(next_step, "next_step")),
        )

    class VisitLogged(Entity.Event):
        """A visit, revisit or call. Version 2: `notes` and `next_step` (free text about the people
        met) are the customer record's personal data; version-1 events hold them in clear and are
        upcast to the same shape."""

        class_version = 2
        rep_id: str
        kind: str
        occurred_at: datetime
        notes: Personal | None
        next_step: Personal | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            for key in ("notes", "next_step"):
                state[key] = from_clear(state["originator_id"], state.get(key))

    @event(VisitLogged)
    def _visit_logged(
        self, rep_id: str, kind: str, occurred_at: datetime, notes: Personal | None, next_step: Personal | None
    ) -> None:
        self.visits.append(
            {"rep_id": rep_id, "kind": kind, "occurred_at": occurred_at, "notes": notes, "next_step": next_step}
        )

    def record_revisit_overdue(
        self, *, due_on: date, as_of: date, grade: str, days: int, last_visit_on: date | None
    ) -> bool:
        """The revisit plan's visit due on `due_on` had not happened by `as_of`. Idempotent:
        an overdue revisit already recorded for that due date records nothing (False)."""
        due_on = business_date(due_on, "due_on")
        as_of = business_date(as_of, "as_of")
        if as_of <= due_on:
            raise InvalidInput(f"the revisit due on {due_on} is not overdue on {as_of}", field="as_of")
        if any(o["due_on"] == due_on for o in self.overdue_revisits):
            return False
        self._revisit_overdue(
            due_on=due_on, as_of=as_of, grade=Grade.parse(grade, "grade"), days=days, last_visit_on=last_visit_on
        )
        return True

    @event("RevisitOverdue")
    def _revisit_overdue(self, due_on: date, as_of: date, grade: str, days: int, last_visit_on: date | None) -> None:
        self.overdue_revisits.append(
            {"due_on": due_on, "as_of": as_of, "grade": grade, "days": days, "last_visit_on": last_visit_on}
        )

    def link_lead(self, *, lead_id: str) -> None:
        """A converted lead turned out to be this existing customer."""
        if lead_id not in self.lead_ids:
            self._lead_linked(lead_id=lead_id)

    @event("LeadLinked")
    def _lead_linked(self, lead_id: str) -> None:
        self.lead_ids = [*self.lead_ids, lead_id]

    # -- classification and credit -------------------------------------------------------------
    def classify(self, *, classification: str, reason: str) -> None:
        to = Classification.parse(classification, "classification")
        reason = required_text(reason, "reason")
        if to == self.classification:
            raise Conflict(f"the customer is already classified {to}", code="classification_unchanged")
        self._classified(from_classification=self.classification, to_classification=to, reason=reason)

    @event("Classified")
    def _classified(self, from_classification: str | None, to_classification: str, reason: str) -> None:
        self.classification = to_classification

    def rate_credit(self, *, rating: str, limit: object, evidence: str, rated_on: date) -> None:
        """A credit rating with the limit it allows and the evidence behind it."""
        rating = CreditRating.parse(rating, "rating")
        limit = money(limit, field="limit", allow_zero=True)
        evidence = required_text(evidence, "evidence", max_length=2000)
        self._credit_rated(
            rating=rating,
            limit=limit,
            evidence=evidence,
            rated_on=business_date(rated_on, "rated_on"),
            previous=self.credit,
        )

    @event("CreditRated")
    def _credit_rated(
        self, rating: str, limit: Decimal, evidence: str, rated_on: date, previous: Credit | None
    ) -> None:
        self.credit = {"rating": rating, "limit": limit, "evidence": evidence, "rated_on": rated_on}
        self.credit_history.append(self.credit)

    # -- stakeholders (干系人) -------------------------------------------------------------------
    def add_stakeholder(
        self,
        *,
        stakeholder_id: str,
        name: str,
        role: str,
        title: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        notes: str | None = None,
    ) -> None:
        if stakeholder_id in self.stakeholders:
            raise Conflict("a stakeholder with this id exists", code="stakeholder_exists")
        self._stakeholder_added(
            stakeholder_id=stakeholder_id,
            **_stakeholder(str(self.id), name=name, role=role, title=title, phone=phone, email=email, notes=notes),
        )

    @event("StakeholderAdded")
    def _stakeholder_added(
        self,
        stakeholder_id: str,
        name: Personal | None,
        role: str,
        title: str | None,
        phone: Personal | None,
        email: Personal | None,
        notes: Personal | None,
    ) -> None:
        self.stakeholders[stakeholder_id] = {
            "stakeholder_id": stakeholder_id,
            "name": name,
            "role": role,
            "title": title,
            "phone": phone,
            "email": email,
            "notes": notes,
        }

    def update_stakeholder(self, *, stakeholder_id: str, **fields: str | None) -> None:
        """Change some of a stakeholder's details; the event keeps what changed, from and to."""
        current = self._stakeholder(stakeholder_id)
        merged = _stakeholder(
            str(self.id),
            **{
                k: current[k] if fields.get(k) is None else fields[k]
                for k in ("name", "role", "title", "phone", "email", "notes")
            },
        )
        changes = {k: {"from": current[k], "to": v} for k, v in merged.items() if plain(current[k]) != plain(v)}
        if not changes:
            raise Conflict("the update changes nothing", code="stakeholder_unchanged")
        self._stakeholder_updated(stakeholder_id=stakeholder_id, changes=changes)

    @event("StakeholderUpdated")
    def _stakeholder_updated(self, stakeholder_id: str, changes: dict[str, dict[str, Any]]) -> None:
        for key, change in changes.items():
            self.stakeholders[stakeholder_id][key] = change["to"]

    def remove_stakeholder(self, *, stakeholder_id: str, reason: str) -> None:
        self._stakeholder(stakeholder_id)
        self._stakeholder_removed(stakeholder_id=stakeholder_id, reason=required_text(reason, "reason"))

    @event("StakeholderRemoved")
    def _stakeholder_removed(self, stakeholder_id: str, reason: str) -> None:
        self.stakeholders.pop(stakeholder_id, None)

    def _stakeholder(self, stakeholder_id: str) -> dict[str, Any]:
        try:
            return self.stakeholders[stakeholder_id]
        except KeyError:
            raise NotFound(
                f"no stakeholder {stakeholder_id} on this customer", kind="stakeholder", id=stakeholder_id
            ) from None

    # -- feedback and lifecycle ----------------------------------------------------------------
    def give_feedback(self, *, score: int, comment: str | None, given_on: date, rep_id: str | None = None) -> None:
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise InvalidInput("score must be a whole number from 1 to 5", field="score")
        self._feedback_given(
            score=score,
            comment=personal(str(self.id), optional_text(comment, "comment")),
            given_on=business_date(given_on, "given_on"),
            rep_id=rep_id,
        )

    class FeedbackGiven(Entity.Event):
        """Version 2: `comment` is the customer record's personal data (version-1 events: in
        clear, upcast). The score is a figure and stays readable."""

        class_version = 2
        score: int
        comment: Personal | None
        given_on: date
        rep_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["comment"] = from_clear(state["originator_id"], state.get("comment"))

    @event(FeedbackGiven)
    def _feedback_given(self, score: int, comment: Personal | None, given_on: date, rep_id: str | None) -> None:
        self.feedback.append({"score": score, "comment": comment, "given_on": given_on, "rep_id": rep_id})

    def move_lifecycle(self, *, to: str, reason: str, on: date, allowed_from: tuple[str, ...]) -> None:
        """prospect → active (first won deal) → dormant (no activity) → churned; reactivation
        brings a dormant or churned customer back to active."""
        if self.lifecycle not in allowed_from:
            raise Conflict(
                f"the customer is {self.lifecycle}; it cannot become {to} now",
                code="lifecycle",
                lifecycle=self.lifecycle,
            )
        self._lifecycle_changed(
            from_state=self.lifecycle, to_state=to, reason=required_text(reason, "reason"), on=business_date(on, "on")
        )

    @event("LifecycleChanged")
    def _lifecycle_changed(self, from_state: str, to_state: str, reason: str, on: date) -> None:
        self.lifecycle = to_state
        self.lifecycle_history.append({"from": from_state, "to": to_state, "reason": reason, "on": on})

    def forget(self, *, reason: str) -> None:
        """Forget the people of this customer record (stakeholders' names, contacts and notes, visit
        notes, feedback comments): the store destroys the record's key with this event. The
        company and its figures stay."""
        self._forgotten(reason=required_text(reason, "reason"))

    @event("Forgotten")
    def _forgotten(self, reason: str) -> None:
        self.forgotten = True


def _stakeholder(
    subject: str, *, name: object, role: object, title: object, phone: object, email: object, notes: object
) -> StakeholderDetails:
    """A stakeholder's details; the people-identifying ones are the customer record's personal data."""
    return {
        "name": personal(subject, required_text(plain(name), "name", max_length=200)),
        "role": StakeholderRole.parse(role, "role"),
        "title": optional_text(title, "title", max_length=200),
        "phone": personal(subject, optional_text(plain(phone), "phone", max_length=50)),
        "email": personal(subject, optional_text(plain(email), "email", max_length=200)),
        "notes": personal(subject, optional_text(plain(notes), "notes")),
    }
