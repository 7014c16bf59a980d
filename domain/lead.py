"""The Lead aggregate: a prospective customer from capture to conversion (or not).

Statuses: pool (unassigned, open), assigned, qualified — open; duplicate, disqualified,
converted, merged — closed. Every event carries the inputs and reasons behind it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput
from domain.lead_policy import sla_due
from domain.personal import Personal, from_clear, personal, plain
from domain.values import Choice, LeadSource, optional_text, required_text, sane_date

CONTACT_FIELDS = ("contact_name", "phone", "email", "wechat_id", "size_band", "product_line", "notes")
PERSONAL_FIELDS = frozenset({"contact_name", "phone", "email", "wechat_id", "notes"})
OPEN_STATUSES = ("pool", "assigned", "qualified")


class Channel(Choice):
    CALL = "call"
    VISIT = "visit"
    WECHAT = "wechat"
    EMAIL = "email"
    MEETING = "meeting"


def moment(value: object, field: str) -> datetime:
    """A timezone-aware instant (naive input is taken as UTC)."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a date-time", field=field)
    sane_date(value.date(), field)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Lead(Entity):
    @event("Captured")
    def __init__(
        self,
        id: UUID,
        company: str,
        source: str,
        region: str,
        industry: str,
        contact: dict[str, Any],  # CONTACT_FIELDS: Personal | None for PERSONAL_FIELDS, else str | None
        captured_on: date,
        duplicate_of: str | None = None,
        external_id: str | None = None,
    ) -> None:
        self.company = company
        self.external_id = external_id  # the lead's id in the CRM it was imported from
        self.source = source
        self.region = region
        self.industry = industry
        self.contact = contact
        self.captured_on = captured_on
        self.duplicate_of = duplicate_of
        self.status = "duplicate" if duplicate_of else "pool"
        self.score: Decimal | None = None
        self.grade: str | None = None
        self.model_version: str | None = None
        self.assignee_id: str | None = None
        self.assigned_at: datetime | None = None
        self.rule: str | None = None
        self.first_contact_at: datetime | None = None
        self.last_contact_at: datetime | None = None
        self.contacts: list[dict[str, Any]] = []
        self.breaches: list[dict[str, Any]] = []
        self.released: dict[str, datetime] = {}
        self.customer_id: str | None = None
        self.deal_id: str | None = None
        self.merged_into: str | None = None

    @classmethod
    def capture(
        cls,
        id: UUID,
        *,
        company: str,
        source: str,
        region: str,
        industry: str,
        captured_on: date,
        duplicate_of: str | None = None,
        external_id: str | None = None,
        **contact: str | None,
    ) -> Lead:
        unknown = set(contact) - set(CONTACT_FIELDS)
        if unknown:
            raise TypeError(f"unknown lead fields: {sorted(unknown)}")
        return cls(
            id=id,
            company=required_text(company, "company", max_length=300),
            source=LeadSource.parse(source, "source"),
            region=required_text(region, "region", max_length=200),
            industry=required_text(industry, "industry", max_length=200),
            contact={
                k: personal(str(id), optional_text(contact.get(k), k))
                if k in PERSONAL_FIELDS
                else optional_text(contact.get(k), k)
                for k in CONTACT_FIELDS
            },
            captured_on=business_date(captured_on, "captured_on"),
            duplicate_of=duplicate_of,
            external_id=optional_text(external_id, "external_id", max_length=200),
        )

    # -- guards --------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def _require_open(self, action: str) -> None:
        if not self.is_open:
            raise Conflict(
                f"cannot {action}: the lead is {self.status}",
                code="lead_closed",
                lead_id=str(self.id),
                status=self.status,
            )

    def _require_assignee(self, action: str) -> str:
        self._require_open(action)
        if self.assignee_id is None:
            raise Conflict(f"cannot {action}: the lead is in the pool, not assigned", code="lead_unassigned")
        return self.assignee_id

    # -- scoring -------------------------------------------------------------------------------
    def rescore(
        self,
        *,
        inputs: dict[str, int],
        source_weight: Decimal,
        model_version: str,
        policy_version: str,
        score: Decimal,
        grade: str,
    ) -> None:
        self._require_open("score the lead")
        self._scored(
            inputs=inputs,
            source=self.source,
            source_weight=source_weight,
            model_version=model_version,
            policy_version=policy_version,
            score=score,
            grade=grade,
            previous_grade=self.grade,
        )

    @event("Scored")
    def _scored(
        self,
        inputs: dict[str, int],
        source: str,
        source_weight: Decimal,
        model_version: str,
        policy_version: str,
        score: Decimal,
        grade: str,
        previous_grade: str | None,
    ) -> None:
        self.score, self.grade, self.model_version = score, grade, model_version

    # -- assignment ----------------------------------------------------------------------------
    def assign(
        self,
        *,
        rep_id: str,
        kind: str,
        assigned_at: datetime,
        why: str,
        rule: str | None = None,
        reason: str | None = None,
        cooldown_days: int = 0,
    ) -> None:
        """kind: rules | manual | claim | breach_reassign | handover."""
        assigned_at = moment(assigned_at, "assigned_at")
        self._require_open("assign the lead")
        if kind != "claim" and (kind != "rules" or self.assignee_id):  # manual assignment and any reassignment
            reason = required_text(reason, "reason")
        if self.assignee_id == rep_id:
            raise Conflict("the lead is already assigned to this rep", code="already_assigned", rep_id=rep_id)
        if kind == "claim":
            if self.assignee_id is not None:
                raise Conflict(
                    "only leads in the pool can be claimed", code="not_in_pool", assignee_id=self.assignee_id
                )
            released = self.released.get(rep_id)
            if released is not None and assigned_at < released + timedelta(days=cooldown_days):
                raise Conflict(
                    f"this rep returned the lead on {released.date()}; it can be claimed again by them "
                    f"from {(released + timedelta(days=cooldown_days)).date()}",
                    code="cooldown",
                    until=(released + timedelta(days=cooldown_days)).isoformat(),
                )
        self._assigned(
            rep_id=rep_id,
            previous_rep_id=self.assignee_id,
            kind=kind,
            rule=rule,
            why=why,
            reason=reason,
            assigned_at=assigned_at,
            grade=self.grade,
        )

    @event("Assigned")
    def _assigned(
        self,
        rep_id: str,
        previous_rep_id: str | None,
        kind: str,
        rule: str | None,
        why: str,
        reason: str | None,
        assigned_at: datetime,
        grade: str | None,
    ) -> None:
        if previous_rep_id:
            self.released[previous_rep_id] = assigned_at
        self.assignee_id, self.assigned_at, self.rule = rep_id, assigned_at, rule
        self.first_contact_at = None
        if self.status == "pool":
            self.status = "assigned"

    def return_to_pool(self, *, reason: str, returned_at: datetime, kind: str = "returned") -> str:
        """Give the lead back to the pool (a rep's choice, or recycled by the SLA check)."""
        rep_id = self._require_assignee("return the lead")
        self._returned(
            rep_id=rep_id,
            kind=kind,
            reason=required_text(reason, "reason"),
            returned_at=moment(returned_at, "returned_at"),
        )
        return rep_id

    @event("Returned")
    def _returned(self, rep_id: str, kind: str, reason: str, returned_at: datetime) -> None:
        self.released[rep_id] = returned_at
        self.assignee_id, self.assigned_at, self.rule, self.first_contact_at = None, None, None, None
        self.status = "pool"

    # -- follow-up -----------------------------------------------------------------------------
    def log_contact(self, *, channel: str, outcome: str, occurred_at: datetime, notes: str | None = None) -> None:
        channel = Channel.parse(channel, "channel")
        outcome = required_text(outcome, "outcome")
        occurred_at = moment(occurred_at, "occurred_at")
        rep_id = self._require_assignee("log a contact")
        assert self.assigned_at is not None  # set together with the assignee
        if occurred_at < self.assigned_at:
            raise InvalidInput(
                "occurred_at is before the lead was assigned to its current rep",
                field="occurred_at",
                assigned_at=self.assigned_at.isoformat(),
            )
        self._contacted(
            rep_id=rep_id,
            channel=channel,
            outcome=outcome,
            notes=personal(str(self.id), optional_text(notes, "notes")),
            occurred_at=occurred_at,
        )

    class Contacted(Entity.Event):
        """A follow-up with the lead. Version 2: `notes` is the lead's personal data (encrypted
        under its key); version-1 events hold it in clear and are upcast to the same shape."""

        class_version = 2
        rep_id: str
        channel: str
        outcome: str
        notes: Personal | None
        occurred_at: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["notes"] = from_clear(state["originator_id"], state.get("notes"))

    @event(Contacted)
    def _contacted(
        self, rep_id: str, channel: str, outcome: str, notes: Personal | None, occurred_at: datetime
    ) -> None:
        self.contacts.append(
            {"rep_id": rep_id, "channel": channel, "outcome": outcome, "notes": notes, "occurred_at": occurred_at}
        )
        if self.first_contact_at is None or occurred_at < self.first_contact_at:
            self.first_contact_at = occurred_at
        if self.last_contact_at is None or occurred_at > self.last_contact_at:
            self.last_contact_at = occurred_at

    def sla_due(self, settings: dict[str, Any]) -> tuple[str, datetime] | None:
        """What is due next for the current assignee (None when unassigned or closed)."""
        if not self.is_open or self.assignee_id is None:
            return None
        assert self.assigned_at is not None  # set together with the assignee
        return sla_due(
            settings,
            grade=self.grade,
            assigned_at=self.assigned_at,
            first_contact_at=self.first_contact_at,
            last_contact_at=self.last_contact_at,
        )

    def sla_breach(self, settings: dict[str, Any], as_of: datetime) -> tuple[str, datetime] | None:
        """The breach to record at `as_of`, unless it is not due yet or already recorded."""
        due = self.sla_due(settings)
        if due is None or as_of <= due[1]:
            return None
        if any(
            b["kind"] == due[0] and b["due_at"] == due[1] and b["rep_id"] == self.assignee_id for b in self.breaches
        ):
            return None
        return due

    def record_breach(self, *, kind: str, due_at: datetime, as_of: datetime, action: str) -> None:
        self._breached(rep_id=self.assignee_id, kind=kind, due_at=due_at, as_of=as_of, grade=self.grade, action=action)

    @event("SlaBreached")
    def _breached(
        self, rep_id: str | None, kind: str, due_at: datetime, as_of: datetime, grade: str | None, action: str
    ) -> None:
        self.breaches.append({"rep_id": rep_id, "kind": kind, "due_at": due_at, "as_of": as_of})

    # -- outcomes ------------------------------------------------------------------------------
    def qualify(self, *, notes: str | None, qualified_on: date) -> None:
        self._require_assignee("qualify the lead")
        if self.status == "qualified":
            raise Conflict("the lead is already qualified", code="already_qualified")
        self._qualified(
            notes=personal(str(self.id), optional_text(notes, "notes")),
            qualified_on=business_date(qualified_on, "qualified_on"),
        )

    class Qualified(Entity.Event):
        """Version 2: `notes` is the lead's personal data (version-1 events: in clear, upcast)."""

        class_version = 2
        notes: Personal | None
        qualified_on: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["notes"] = from_clear(state["originator_id"], state.get("notes"))

    @event(Qualified)
    def _qualified(self, notes: Personal | None, qualified_on: date) -> None:
        self.status = "qualified"

    def disqualify(self, *, reason: str, allowed: list[str], notes: str | None, disqualified_on: date) -> str | None:
        if reason not in allowed:
            raise InvalidInput(f"reason must be one of: {', '.join(allowed)}", field="reason", value=reason)
        self._require_open("disqualify the lead")
        rep_id = self.assignee_id
        self._disqualified(
            rep_id=rep_id,
            reason=reason,
            notes=personal(str(self.id), optional_text(notes, "notes")),
            disqualified_on=business_date(disqualified_on, "disqualified_on"),
        )
        return rep_id

    class Disqualified(Entity.Event):
        """Version 2: `notes` is the lead's personal data (version-1 events: in clear, upcast)."""

        class_version = 2
        rep_id: str | None
        reason: str
        notes: Personal | None
        disqualified_on: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["notes"] = from_clear(state["originator_id"], state.get("notes"))

    @event(Disqualified)
    def _disqualified(self, rep_id: str | None, reason: str, notes: Personal | None, disqualified_on: date) -> None:
        self.status = "disqualified"

    def convert(self, *, customer_id: str, deal_id: str, new_customer: bool, converted_on: date) -> str:
        rep_id = self._require_assignee("convert the lead")
        self._converted(
            rep_id=rep_id,
            customer_id=customer_id,
            deal_id=deal_id,
            new_customer=new_customer,
            converted_on=business_date(converted_on, "converted_on"),
        )
        return rep_id

    @event("Converted")
    def _converted(self, rep_id: str, customer_id: str, deal_id: str, new_customer: bool, converted_on: date) -> None:
        self.status, self.customer_id, self.deal_id = "converted", customer_id, deal_id

    def merge_into(self, target: Lead, *, reason: str) -> str | None:
        """Fold this lead into `target`: target fills its blank contact fields from this one."""
        reason = required_text(reason, "reason")
        if target.id == self.id:
            raise Conflict("a lead cannot be merged into itself", code="merge_self")
        if self.status not in (*OPEN_STATUSES, "duplicate"):
            raise Conflict(f"cannot merge: the lead is {self.status}", code="lead_closed")
        target._require_open("absorb another lead")
        filled = {
            k: personal(str(target.id), v) if k in PERSONAL_FIELDS else v  # now the target's data
            for k, v in self.contact.items()
            if plain(v) and not plain(target.contact.get(k))
        }
        rep_id = self.assignee_id
        self._merged(into=str(target.id), rep_id=rep_id, reason=reason)
        target._absorbed(lead_id=str(self.id), filled=filled, reason=reason)
        return rep_id

    @event("MergedInto")
    def _merged(self, into: str, rep_id: str | None, reason: str) -> None:
        self.status, self.merged_into = "merged", into
        self.assignee_id = None

    @event("Absorbed")
    def _absorbed(self, lead_id: str, filled: dict[str, Any], reason: str) -> None:
        self.contact = {**self.contact, **filled}

    def forget(self, *, reason: str) -> None:
        """The data subject asked to be forgotten: the store destroys their key with this event."""
        self._forgotten(reason=required_text(reason, "reason"))

    @event("Forgotten")
    def _forgotten(self, reason: str) -> None:
        self.forgotten = True
