"""Leads: capture, scoring, assignment by rules, the pool, follow-up, SLA checks and conversion.

Assignment touches two aggregates atomically: the Lead (who has it, by which rule, why) and
the Rep (their open leads), so capacity caps hold even when assignments race."""

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
from domain.deal import Deal
from domain.errors import Conflict, InvalidInput, NotFound
from domain.lead import Lead, moment
from domain.lead_policy import (
    POLICY_ID,
    Candidate,
    LeadPolicy,
    PolicyView,
    choose,
    eligible,
    matching_rule,
    score,
    score_inputs,
)
from domain.rep import Rep
from infrastructure.eventsource import EventSource
from infrastructure.store import EventStore
from projections.engine.tail import Tail
from projections.leads import TAIL_LIMIT, TooFarBehind, find_duplicate, find_duplicate_at_head, open_assigned, queue
from projections.org import roster

T = TypeVar("T", bound=Entity)


@dataclass(frozen=True)
class CheckSla:
    """Check every open, assigned lead's follow-up SLA at `as_of` (default: now; never later)."""

    as_of: datetime | None = None


@dataclass(frozen=True)
class SlaBreach:
    """A breach recorded by an SLA check and what was done about it."""

    lead_id: str
    rep_id: str | None
    kind: str  # first_response | follow_up
    due_at: datetime
    action: str  # recorded | returned to the pool | reassigned to <rep id>
    position: int


@dataclass(frozen=True)
class SlaCheckResult:
    as_of: datetime
    checked: int
    breaches: list[SlaBreach]


class Leads(UseCases):
    """Leads: capture, scoring, assignment by rules, the pool, follow-up, SLA checks and conversion."""

    def __init__(self, store: EventStore, reads: ReadModels) -> None:
        super().__init__(store)
        self.reads = reads
        self.source = EventSource(store)
        # The lead events not yet in the leads read model, read once for every capture.
        self.tail = Tail(self.source, poll_seconds=0, keep=TAIL_LIMIT)

    def configure_lead_policy(self, meta: Meta, *, settings: dict[str, Any], reason: str) -> Written:
        try:
            policy = self.load(LeadPolicy, POLICY_ID)
            policy.configure(settings, reason)
        except NotFound:
            policy = LeadPolicy.configure_first(settings, reason)
        return self._written(meta, policy, policy_version=policy.version, scoring_version=policy.scoring_version)

    def capture_lead(
        self,
        meta: Meta,
        *,
        company: str,
        source: str,
        region: str,
        industry: str,
        captured_on: date | None = None,
        id: UUID | None = None,
        **contact: str | None,
    ) -> Written:
        """Capture a lead. An open lead with the same normalised phone or email, or the same
        normalised company in the same region, makes this one a recorded duplicate
        (`duplicate_of`): it is linked to the lead it repeats, never dropped. Every stored event
        counts, so a lead captured a moment ago is found: the leads read model as it stands plus
        the lead events stored since, applied in memory (the read model is not caught up here,
        unless it is too far behind)."""
        phone, email = contact.get("phone"), contact.get("email")
        try:
            with self.reads.read() as tx:
                duplicate_of = find_duplicate_at_head(
                    tx, self.tail, phone=phone, email=email, company=company, region=region
                )
        except TooFarBehind:
            with self.reads.current("leads") as tx:
                duplicate_of = find_duplicate(tx, phone=phone, email=email, company=company, region=region)
        lead = Lead.capture(
            id or uuid4(),
            company=company,
            source=source,
            region=region,
            industry=industry,
            captured_on=captured_on or clock.today(),
            duplicate_of=duplicate_of,
            **contact,
        )
        return self._written(meta, lead, duplicate_of=lead.duplicate_of, status=lead.status)

    def score_lead(
        self,
        meta: Meta,
        lead_id: str,
        *,
        need_match: Any,
        purchasing_power: Any,
        decision_complexity: Any,
        expected_version: int | None = None,
    ) -> Written:
        policy = self.lead_policy()
        inputs = score_inputs(need_match, purchasing_power, decision_complexity)
        lead = self._expect(self.load(Lead, lead_id), expected_version)
        total, grade = score(policy.settings, lead.source, inputs)
        lead.rescore(
            inputs=inputs,
            source_weight=policy.settings["scoring"]["source_weights"][lead.source],
            model_version=policy.model_version,
            policy_version=policy.label,
            score=total,
            grade=grade,
        )
        return self._written(meta, lead, score=total, grade=grade, model_version=policy.model_version)

    def _give(
        self,
        lead: Lead,
        rep: Rep,
        *,
        kind: str,
        why: str,
        at: datetime,
        rule: str | None = None,
        reason: str | None = None,
        capacity: int | None = None,
        cooldown_days: int = 0,
    ) -> list[Entity]:
        previous = lead.assignee_id
        lead.assign(
            rep_id=str(rep.id),
            kind=kind,
            assigned_at=at,
            why=why,
            rule=rule,
            reason=reason,
            cooldown_days=cooldown_days,
        )
        assert lead.assigned_at is not None  # just assigned
        rep.take_lead(lead_id=str(lead.id), capacity=capacity, taken_at=lead.assigned_at)
        changed: list[Entity] = [lead, rep]
        if previous:
            before = self.load(Rep, previous)
            before.release_lead(lead_id=str(lead.id), why=f"reassigned ({kind})")
            changed.append(before)
        return changed

    def _by_rules(
        self, lead: Lead, roster: list[dict[str, Any]], policy: PolicyView, exclude: str | None = None
    ) -> tuple[dict[str, Any], str, Candidate | None, str]:
        """The rule that matches, the rep it picks (or None) and why."""
        settings = policy.settings
        if lead.grade is None:
            raise Conflict("score the lead before assigning it by the rules", code="lead_unscored")
        level: str = settings["grade_levels"][lead.grade]
        facts = {
            "region": lead.region,
            "industry": lead.industry,
            "size_band": lead.contact.get("size_band"),
            "product_line": lead.contact.get("product_line"),
        }
        rule = matching_rule(settings, facts)
        candidates: list[Candidate] = []
        for member in roster:
            if (
                member["level"] != level
                or member["rep_id"] in (exclude, lead.assignee_id)
                or not eligible(rule, lead.region, member)
            ):
                continue
            rep = self.load(Rep, member["rep_id"])
            if rep.status == "active":
                candidates.append(
                    Candidate(
                        str(rep.id), rep.name, len(rep.open_leads), settings["capacity"][level], rep.last_lead_taken_at
                    )
                )
        best, why = choose(candidates)
        return rule, level, best, f"grade {lead.grade} -> {level} reps; rule '{rule['name']}': {why}"

    def assign_lead(
        self,
        meta: Meta,
        lead_id: str,
        *,
        assigned_at: datetime | None = None,
        rep_id: str | None = None,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """By the rules (no rep_id: grade → level, the roster of today's organisation, least
        loaded, round-robin, caps) or by hand (rep_id and a reason). `assigned_at` defaults to now."""
        policy = self.lead_policy()
        lead = self._expect(self.load(Lead, lead_id), expected_version)
        assigned_at = moment(assigned_at or clock.now(), "assigned_at")
        if rep_id:
            rep = self._active_rep(rep_id, "rep_id")
            changed = self._give(
                lead,
                rep,
                kind="manual",
                why="assigned by hand",
                at=assigned_at,
                reason=reason,
                capacity=policy.settings["capacity"][rep.level],
            )
            return self._written(meta, *changed, rep_id=str(rep.id), rule=None)
        lead._require_open("assign the lead")
        rule, level, best, why = self._by_rules(lead, self._roster(clock.today()), policy)
        if best is None:
            raise Conflict(
                f"no {level} rep can take this lead: {why}", code="no_eligible_rep", rule=rule["name"], level=level
            )
        changed = self._give(
            lead,
            self.load(Rep, best.rep_id),
            kind="rules",
            why=why,
            at=assigned_at,
            rule=rule["name"],
            reason=reason,
            capacity=best.capacity,
        )
        return self._written(meta, *changed, rep_id=best.rep_id, rule=rule["name"], why=why)

    def _roster(self, day: date) -> list[dict[str, Any]]:
        """Who can be given leads on `day`: the org read model, caught up to every hire and move."""
        with self.reads.current("org") as tx:
            return roster(tx, day)

    def queue(self, rep_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
        """A rep's open leads, most urgent first, with age, next follow-up due and SLA state at
        `as_of` (default now), from the leads read model as far as it has got."""
        rep = self.load(Rep, rep_id)
        at = clock.now() if as_of is None else moment(as_of, "as_of")
        with self.reads.read() as tx:
            return queue(tx, str(rep.id), self.lead_policy().settings, at)

    def claim_lead(self, meta: Meta, lead_id: str, *, rep_id: str, claimed_at: datetime | None = None) -> Written:
        """A rep takes a lead from the pool, within their cap and outside their cool-down."""
        policy = self.lead_policy()
        lead = self.load(Lead, lead_id)
        rep = self._active_rep(rep_id, "rep_id")
        changed = self._give(
            lead,
            rep,
            kind="claim",
            why="claimed from the pool",
            at=claimed_at or clock.now(),
            capacity=policy.settings["capacity"][rep.level],
            cooldown_days=policy.settings["pool"]["cooldown_days"],
        )
        return self._written(meta, *changed, rep_id=str(rep.id))

    def return_lead(
        self,
        meta: Meta,
        lead_id: str,
        *,
        reason: str,
        returned_at: datetime | None = None,
        expected_version: int | None = None,
    ) -> Written:
        lead = self._expect(self.load(Lead, lead_id), expected_version)
        rep_id = lead.return_to_pool(reason=reason, returned_at=returned_at or clock.now())
        rep = self.load(Rep, rep_id)
        rep.release_lead(lead_id=str(lead.id), why="returned to the pool")
        return self._written(meta, lead, rep, status=lead.status)

    def log_lead_contact(
        self,
        meta: Meta,
        lead_id: str,
        *,
        channel: str,
        outcome: str,
        occurred_at: datetime,
        notes: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Lead,
            lead_id,
            expected_version,
            lambda lead: lead.log_contact(channel=channel, outcome=outcome, occurred_at=occurred_at, notes=notes),
        )

    def check_sla(self, cmd: CheckSla, meta: Meta) -> SlaCheckResult:
        """Check every open, assigned lead's SLA at `as_of` and record what is due, applying the
        policy's action (record, return to the pool, or reassign by the rules). Idempotent: a
        breach already recorded is not recorded again. `as_of` later than now is refused (422)."""
        now = clock.now()
        as_of = now if cmd.as_of is None else moment(cmd.as_of, "as_of")
        if as_of > now:
            raise InvalidInput(
                "as_of is in the future: an SLA is checked at a moment that has come",
                field="as_of",
                value=as_of.isoformat(),
                now=now.isoformat(),
            )
        with self.reads.current("leads") as tx:
            candidates = open_assigned(tx)
        policy = self.lead_policy()
        members = self._roster(as_of.date()) if policy.settings["sla"]["on_breach"] == "reassign" else []
        breaches = [b for lead_id in candidates if (b := self._check_lead_sla(meta, lead_id, as_of, members, policy))]
        return SlaCheckResult(as_of=as_of, checked=len(candidates), breaches=breaches)

    def _check_lead_sla(
        self, meta: Meta, lead_id: str, as_of: datetime, roster: list[dict[str, Any]], policy: PolicyView
    ) -> SlaBreach | None:
        """Record a due SLA breach on one lead and apply the policy's action; None if nothing is due
        or it was recorded already."""
        lead = self.load(Lead, lead_id)
        found = lead.sla_breach(policy.settings, as_of)
        if found is None:
            return None
        kind, due_at = found
        action = policy.settings["sla"]["on_breach"]
        breached_rep = lead.assignee_id
        changed: list[Entity] = [lead]
        outcome = "recorded"
        if action == "reassign":
            rule, _, best, why = (
                self._by_rules(lead, roster, policy, exclude=breached_rep) if lead.grade else (None, None, None, "")
            )
            if best is not None:
                assert rule is not None  # a rep was picked by the rules
                lead.record_breach(kind=kind, due_at=due_at, as_of=as_of, action="reassign")
                changed = self._give(
                    lead,
                    self.load(Rep, best.rep_id),
                    kind="breach_reassign",
                    why=why,
                    at=as_of,
                    rule=rule["name"],
                    reason=f"SLA breach: {kind} was due {due_at.isoformat()}",
                    capacity=best.capacity,
                )
                outcome = f"reassigned to {best.rep_id}"
            else:
                action = "pool"  # nobody else can take it: recycle instead
        if action == "pool":
            lead.record_breach(kind=kind, due_at=due_at, as_of=as_of, action="pool")
            lead.return_to_pool(
                reason=f"SLA breach: {kind} was due {due_at.isoformat()}", returned_at=as_of, kind="recycled"
            )
            rep = self.load(Rep, breached_rep)
            rep.release_lead(lead_id=str(lead.id), why="recycled after an SLA breach")
            changed.append(rep)
            outcome = "returned to the pool"
        elif action == "record":
            lead.record_breach(kind=kind, due_at=due_at, as_of=as_of, action="record")
        position = self.record(meta, *changed)
        return SlaBreach(
            lead_id=str(lead.id), rep_id=breached_rep, kind=kind, due_at=due_at, action=outcome, position=position
        )

    def qualify_lead(
        self,
        meta: Meta,
        lead_id: str,
        *,
        qualified_on: date,
        notes: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta, Lead, lead_id, expected_version, lambda lead: lead.qualify(notes=notes, qualified_on=qualified_on)
        )

    def disqualify_lead(
        self,
        meta: Meta,
        lead_id: str,
        *,
        reason: str,
        disqualified_on: date,
        notes: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        policy = self.lead_policy()
        lead = self._expect(self.load(Lead, lead_id), expected_version)
        rep_id = lead.disqualify(
            reason=reason, allowed=policy.settings["disqualify_reasons"], notes=notes, disqualified_on=disqualified_on
        )
        changed: list[Entity] = [lead]
        if rep_id:
            rep = self.load(Rep, rep_id)
            rep.release_lead(lead_id=str(lead.id), why="disqualified")
            changed.append(rep)
        return self._written(meta, *changed, status=lead.status)

    def convert_lead(
        self,
        meta: Meta,
        lead_id: str,
        *,
        converted_on: date,
        customer_id: str | None = None,
        amount: object = "0.00",
        product_line: str | None = None,
        title: str | None = None,
        currency: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """Create the customer (or link an existing one) and open a deal owned by the lead's rep,
        recorded on all three in one write."""
        lead = self._expect(self.load(Lead, lead_id), expected_version)
        owner = lead._require_assignee("convert the lead")  # the assignee_id, checked
        if customer_id:
            try:
                customer = self.load(Customer, customer_id)
            except NotFound:
                raise NotFound(f"customer_id: no customer with id {customer_id}", field="customer_id") from None
            customer.link_lead(lead_id=str(lead.id))
        else:
            customer = Customer.register(
                uuid4(),
                name=lead.company,
                region=lead.region,
                industry=lead.industry,
                registered_on=converted_on,
                owner_id=owner,
                size_band=lead.contact.get("size_band"),
                lead_id=str(lead.id),
            )
        deal = Deal.open(
            uuid4(),
            customer_id=str(customer.id),
            owner_id=owner,
            amount=amount,
            product_line=product_line or lead.contact.get("product_line") or "unspecified",
            opened_on=converted_on,
            currency_code=currency,
            title=title or lead.company,
            lead_id=str(lead.id),
        )
        lead.convert(
            customer_id=str(customer.id), deal_id=str(deal.id), new_customer=not customer_id, converted_on=converted_on
        )
        rep = self.load(Rep, owner)
        rep.release_lead(lead_id=str(lead.id), why="converted")
        written = self._written(meta, lead, customer, deal, rep, customer_id=str(customer.id), deal_id=str(deal.id))
        return written

    def merge_leads(self, meta: Meta, lead_id: str, *, into: str, reason: str) -> Written:
        source = self.load(Lead, lead_id)
        try:
            target = self.load(Lead, into)
        except NotFound:
            raise NotFound(f"into: no lead with id {into}", field="into") from None
        rep_id = source.merge_into(target, reason=reason)
        changed: list[Entity] = [source, target]
        if rep_id:
            rep = self.load(Rep, rep_id)
            rep.release_lead(lead_id=str(source.id), why=f"merged into {target.id}")
            changed.append(rep)
        return self._written(meta, *changed, merged_into=str(target.id))
