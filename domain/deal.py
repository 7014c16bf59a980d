"""The Deal aggregate: an opportunity from first contact to a signed contract, its cash,
refunds and cancellations. Probabilities, loss reasons and payment terms come from the sales
policy and are recorded in the events that applied them."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput, NotFound
from domain.receivables import kept, receivable
from domain.values import Choice, Stage, currency, money, optional_text, required_text

OPEN, WON, LOST = "open", "won", "lost"


class OverlayKind(Choice):
    PRESALES = "presales"
    CHANNEL_PARTNER = "channel_partner"


class RefundKind(Choice):
    REFUND = "refund"  # money paid back
    CANCELLATION = "cancellation"  # part of the contract cancelled before it was paid


class ProposalOutcome(Choice):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REVISED = "revised"  # a new version follows


NEGOTIATION_FIELDS = ("budget", "decision_process", "decision_makers", "competitors")


def empty_negotiation() -> dict[str, Any]:
    return {"budget": None, "decision_process": None, "decision_makers": [], "competitors": [], "as_of": None}


class Split(TypedDict):
    """A rep's share of the deal's revenue credit; a deal's shares total exactly 1."""

    rep_id: str
    share: Decimal


class Overlay(TypedDict):
    """Credit to another party (presales, a channel partner), beside the splits."""

    party: str
    kind: str
    share: Decimal


class Deal(Entity):
    @event("Opened")
    def __init__(
        self,
        id: UUID,
        customer_id: str,
        owner_id: str,
        amount: Decimal,
        currency: str,
        product_line: str,
        title: str | None,
        expected_close: date | None,
        opened_on: date,
        lead_id: str | None = None,
        probability: Decimal | None = None,
        credit_override: dict[str, Any] | None = None,
        opened_on_stated: bool = False,
        external_id: str | None = None,
    ) -> None:
        self.customer_id = customer_id
        self.external_id = external_id  # the deal's id in the CRM it was imported from
        self.owner_id = owner_id
        self.amount = amount
        self.currency = currency
        self.product_line = product_line
        self.title = title
        self.expected_close = expected_close
        self.opened_on = opened_on
        # False when the opening date was not given and the recording date stood in for it (and in
        # events recorded before the distinction): later facts may then be dated before it.
        self.opened_on_stated = opened_on_stated
        self.lead_id = lead_id
        self.stage = Stage.INITIAL_CONTACT.value
        self.probability = probability
        self.credit_override = credit_override
        self.status = OPEN
        self.stage_history: list[dict[str, Any]] = [{"from": None, "to": self.stage, "on": opened_on}]
        self.line_items: list[dict[str, Any]] = []
        self.splits: list[Split] = [{"rep_id": owner_id, "share": Decimal("1")}]
        self.overlays: list[Overlay] = []
        self.revisions: list[dict[str, Any]] = []
        self.signed_amount: Decimal | None = None
        self.gross_margin: Decimal | None = None
        self.signed_on: date | None = None
        self.payment_due_on: date | None = None
        self.contract_no: str | None = None
        self.lost_reason: str | None = None
        self.lost_on: date | None = None
        self.lost_reason_code: str | None = None
        self.competitor: str | None = None
        self.payments: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.proposals: list[dict[str, Any]] = []  # each with its version and history of outcomes
        self.negotiation: dict[str, Any] = empty_negotiation()
        self.negotiation_history: list[dict[str, Any]] = []
        self.delivery: list[dict[str, Any]] = []  # milestones: name, planned_on, done_on

    @classmethod
    def open(
        cls,
        id: UUID,
        *,
        customer_id: str,
        owner_id: str,
        amount: object,
        product_line: str,
        opened_on: date,
        currency_code: str | None = None,
        title: str | None = None,
        expected_close: date | None = None,
        lead_id: str | None = None,
        probability: Decimal | None = None,
        credit_override: dict[str, Any] | None = None,
        opened_on_stated: bool = False,
        external_id: str | None = None,
    ) -> Deal:
        """A new opportunity; the amount may be zero while it is still being estimated.

        `opened_on_stated`: the opening date is a known business date (not the recording date
        standing in for it); a win or loss dated before a stated opening date is refused."""
        return cls(
            id=id,
            customer_id=required_text(customer_id, "customer_id"),
            owner_id=required_text(owner_id, "owner_id"),
            amount=money(amount, allow_zero=True),
            currency=currency(currency_code),
            product_line=required_text(product_line, "product_line", max_length=200),
            title=optional_text(title, "title", max_length=300),
            expected_close=None if expected_close is None else business_date(expected_close, "expected_close"),
            opened_on=business_date(opened_on, "opened_on"),
            lead_id=lead_id,
            probability=probability,
            credit_override=credit_override,
            opened_on_stated=opened_on_stated,
            external_id=optional_text(external_id, "external_id", max_length=200),
        )

    # -- derived state -------------------------------------------------------------------------
    @property
    def collected(self) -> Decimal:
        return sum((p["amount"] for p in self.payments), Decimal("0.00"))

    @property
    def refunded(self) -> Decimal:
        return sum((r["amount"] for r in self.refunds), Decimal("0.00"))

    @property
    def cancelled(self) -> Decimal:
        return sum((r["amount"] for r in self.refunds if r.get("kind") == "cancellation"), Decimal("0.00"))

    @property
    def receivable(self) -> Decimal:
        """What the customer still owes (domain.receivables): signed, less cancellations, less net cash received."""
        if self.signed_amount is None:
            return Decimal("0.00")
        return receivable(self.signed_amount, self.cancelled, self.collected, self.refunded - self.cancelled)

    def as_dict(self) -> dict[str, Any]:
        state = super().as_dict()
        state.update(collected=self.collected, refunded=self.refunded, receivable=self.receivable)
        return state

    # -- guards --------------------------------------------------------------------------------
    def _require_open(self, action: str) -> None:
        if self.status != OPEN:
            raise Conflict(
                f"cannot {action}: the deal is {self.status}",
                code="deal_closed",
                deal_id=str(self.id),
                status=self.status,
            )

    def _require_won(self, action: str) -> None:
        if self.status != WON:
            raise Conflict(
                f"cannot {action}: the deal is {self.status}, not won",
                code="deal_not_won",
                deal_id=str(self.id),
                status=self.status,
            )

    def _not_before_opening(self, day: date, field: str) -> None:
        """An outcome cannot precede a stated opening date (it would give negative stage durations)."""
        if self.opened_on_stated and day < self.opened_on:
            raise InvalidInput(
                f"{field} ({day}) is before the deal opened ({self.opened_on})",
                field=field,
                opened_on=self.opened_on.isoformat(),
            )

    # -- commands ------------------------------------------------------------------------------
    def change_stage(self, stage: str, *, changed_on: date, probability: Decimal | None = None) -> None:
        """Move to another open stage on `changed_on` (the caller decides the date: the domain has no clock)."""
        to = Stage.parse(stage, "stage")
        changed_on = business_date(changed_on, "changed_on")
        self._require_open("change the stage")
        if to == self.stage:
            raise Conflict(f"the deal is already in stage {to}", code="stage_unchanged", stage=to)
        if changed_on < self.stage_history[-1]["on"]:
            raise InvalidInput(
                f"changed_on is before the previous stage change ({self.stage_history[-1]['on']})", field="changed_on"
            )
        self._stage_changed(from_stage=self.stage, to_stage=to, changed_on=changed_on, probability=probability)

    @event("StageChanged")
    def _stage_changed(
        self, from_stage: str, to_stage: str, changed_on: date | None = None, probability: Decimal | None = None
    ) -> None:
        self.stage = to_stage
        self.probability = probability
        # events recorded before the date was required carry none: they took the opening date
        self.stage_history.append({"from": from_stage, "to": to_stage, "on": changed_on or self.opened_on})

    def revise(self, *, reason: str, amount: object | None = None, expected_close: date | None = None) -> None:
        """Change the estimated amount and/or expected close date, with a reason."""
        reason = required_text(reason, "reason")
        new_amount = self.amount if amount is None else money(amount, allow_zero=True)
        new_close = self.expected_close if expected_close is None else business_date(expected_close, "expected_close")
        self._require_open("revise the deal")
        if new_amount == self.amount and new_close == self.expected_close:
            raise Conflict("the revision changes nothing", code="revision_unchanged")
        self._revised(
            from_amount=self.amount,
            to_amount=new_amount,
            from_expected_close=self.expected_close,
            to_expected_close=new_close,
            reason=reason,
        )

    @event("Revised")
    def _revised(
        self,
        from_amount: Decimal,
        to_amount: Decimal,
        from_expected_close: date | None,
        to_expected_close: date | None,
        reason: str,
    ) -> None:
        self.amount, self.expected_close = to_amount, to_expected_close
        self.revisions.append(
            {
                "from_amount": from_amount,
                "to_amount": to_amount,
                "from_expected_close": from_expected_close,
                "to_expected_close": to_expected_close,
                "reason": reason,
            }
        )

    def set_line_items(self, items: list[dict[str, Any]]) -> None:
        """Product lines with amount and gross margin (replaces the previous list)."""
        if not isinstance(items, list) or not items:
            raise InvalidInput("line_items must be a non-empty list", field="line_items")
        parsed = parse_line_items(items)
        self._require_open("change the line items")
        self._line_items_set(items=parsed, total=sum((p["amount"] for p in parsed), Decimal("0.00")))

    @event("LineItemsSet")
    def _line_items_set(self, items: list[dict[str, Any]], total: Decimal) -> None:
        self.line_items = items

    def set_splits(self, splits: list[dict[str, Any]], overlays: list[dict[str, Any]] | None = None) -> None:
        parsed = parse_splits(splits)
        extra = parse_overlays(overlays or [])
        self._require_open("change the revenue splits")
        self._splits_set(splits=parsed, overlays=extra)

    @event("SplitsSet")
    def _splits_set(self, splits: list[Split], overlays: list[Overlay] | None = None) -> None:
        self.splits = splits
        self.overlays = overlays or []

    def win(
        self,
        *,
        amount: object,
        gross_margin: object,
        signed_on: date,
        contract_no: str | None = None,
        payment_due_on: date | None = None,
        payment_terms_days: int = 30,
    ) -> None:
        signed = money(amount)
        margin = money(gross_margin, field="gross_margin", allow_zero=True, allow_negative=True)
        if margin > signed:
            raise InvalidInput("gross_margin cannot exceed the signed amount", field="gross_margin")
        signed_on = business_date(signed_on, "signed_on")
        self._not_before_opening(signed_on, "signed_on")
        due = (
            signed_on + timedelta(days=payment_terms_days)
            if payment_due_on is None
            else business_date(payment_due_on, "payment_due_on")
        )
        if due < signed_on:
            raise InvalidInput("payment_due_on cannot be before signed_on", field="payment_due_on")
        self._require_open("win the deal")
        self._won(
            amount=signed,
            gross_margin=margin,
            signed_on=signed_on,
            contract_no=optional_text(contract_no, "contract_no", max_length=100),
            payment_due_on=due,
        )

    class Won(Entity.Event):
        """A signed contract. Version 2 added `payment_due_on`; stored version-1 events are
        upcast with the 30-day terms that applied when they were recorded."""

        class_version = 2
        amount: Decimal
        gross_margin: Decimal
        signed_on: date
        contract_no: str | None
        payment_due_on: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["payment_due_on"] = state["signed_on"] + timedelta(days=30)

    @event(Won)
    def _won(
        self, amount: Decimal, gross_margin: Decimal, signed_on: date, contract_no: str | None, payment_due_on: date
    ) -> None:
        self.status = WON
        self.signed_amount = amount
        self.gross_margin = gross_margin
        self.signed_on = signed_on
        self.contract_no = contract_no
        self.payment_due_on = payment_due_on
        self.probability = Decimal("1")

    def lose(
        self,
        *,
        reason: str,
        allowed: list[str] | None = None,
        competitor: str | None = None,
        notes: str | None = None,
        lost_on: date | None = None,
    ) -> None:
        """`reason` should come from the policy's list; free text is kept too, classified as
        `reason_code: other` so that loss analytics stay comparable."""
        reason = required_text(reason, "reason")
        code = reason if allowed is None or reason in allowed else "other"
        if lost_on is not None:
            lost_on = business_date(lost_on, "lost_on")
            self._not_before_opening(lost_on, "lost_on")
        self._require_open("lose the deal")
        self._lost(
            reason=reason,
            competitor=optional_text(competitor, "competitor"),
            notes=optional_text(notes, "notes"),
            lost_on=lost_on,
            reason_code=code,
        )

    @event("Lost")
    def _lost(
        self,
        reason: str,
        competitor: str | None,
        notes: str | None,
        lost_on: date | None = None,
        reason_code: str | None = None,
    ) -> None:
        self.status = LOST
        self.lost_on = lost_on
        self.lost_reason = reason
        self.lost_reason_code = reason_code or reason
        self.competitor = competitor
        self.probability = Decimal("0")

    def receive_payment(self, *, amount: object, received_on: date) -> None:
        paid = money(amount)
        received_on = business_date(received_on, "received_on")
        self._require_won("record a payment")
        if paid > self.receivable:
            raise Conflict(
                "payment exceeds the amount still receivable",
                code="overpayment",
                amount=str(paid),
                receivable=str(self.receivable),
            )
        self._payment_received(amount=paid, received_on=received_on)

    @event("PaymentReceived")
    def _payment_received(self, amount: Decimal, received_on: date) -> None:
        self.payments.append({"amount": amount, "received_on": received_on})

    def refund(self, *, amount: object, refunded_on: date, reason: str, kind: str | None = None) -> None:
        """A refund pays collected money back; a cancellation removes part of the contract that
        was not yet paid. Both reduce what the deal is worth and are clawed back from commissions.
        Without `kind`, money already collected is refunded, otherwise the contract is cancelled."""
        value = money(amount)
        refunded_on = business_date(refunded_on, "refunded_on")
        reason = required_text(reason, "reason")
        self._require_won("record a refund")
        if self.signed_on is not None and refunded_on < self.signed_on:
            raise InvalidInput(f"refunded_on is before the contract was signed ({self.signed_on})", field="refunded_on")
        cash = kept(self.collected, self.refunded - self.cancelled)
        if kind is None:
            kind = "refund" if value <= cash else "cancellation"
        kind = RefundKind.parse(kind, "kind")
        if kind == "refund":
            room = cash
            what = "refunds would exceed the money collected"
        else:
            room = self.receivable
            what = "the cancellation exceeds what is still receivable"
        if value > room:
            raise Conflict(what, code="over_refund", amount=str(value), available=str(room), kind=kind)
        self._refunded(amount=value, refunded_on=refunded_on, reason=reason, kind=kind)

    @event("Refunded")
    def _refunded(self, amount: Decimal, refunded_on: date, reason: str, kind: str = "refund") -> None:
        self.refunds.append({"amount": amount, "refunded_on": refunded_on, "reason": reason, "kind": kind})

    # -- proposals (方案呈现) ---------------------------------------------------------------------
    def _proposal(self, proposal_id: str) -> dict[str, Any]:
        for proposal in self.proposals:
            if proposal["proposal_id"] == proposal_id:
                return proposal
        raise NotFound(f"no proposal {proposal_id} on this deal", kind="proposal", id=proposal_id)

    def send_proposal(
        self,
        *,
        proposal_id: str,
        title: str,
        amount: object,
        sent_on: date,
        valid_until: date | None = None,
        line_items: list[dict[str, Any]] | None = None,
    ) -> None:
        """A tailored proposal sent to the customer: the deal's next version. A proposal sent after
        one marked `revised` is its revision."""
        title = required_text(title, "title", max_length=300)
        value = money(amount)
        sent_on = business_date(sent_on, "sent_on")
        self._not_before_opening(sent_on, "sent_on")
        if valid_until is not None:
            valid_until = business_date(valid_until, "valid_until")
            if valid_until < sent_on:
                raise InvalidInput("valid_until cannot be before sent_on", field="valid_until")
        items = parse_line_items(line_items or [])
        self._require_open("send a proposal")
        if any(p["proposal_id"] == proposal_id for p in self.proposals):
            raise Conflict("a proposal with this id exists", code="proposal_exists", proposal_id=proposal_id)
        revises = next(
            (p["proposal_id"] for p in reversed(self.proposals) if p["status"] == "revised" and not p["superseded_by"]),
            None,
        )
        self._proposal_sent(
            proposal_id=proposal_id,
            version=len(self.proposals) + 1,
            title=title,
            amount=value,
            sent_on=sent_on,
            valid_until=valid_until,
            line_items=items,
            revises=revises,
        )

    @event("ProposalSent")
    def _proposal_sent(
        self,
        proposal_id: str,
        version: int,
        title: str,
        amount: Decimal,
        sent_on: date,
        valid_until: date | None,
        line_items: list[dict[str, Any]],
        revises: str | None,
    ) -> None:
        for earlier in self.proposals:
            if earlier["proposal_id"] == revises:
                earlier["superseded_by"] = proposal_id
        self.proposals.append(
            {
                "proposal_id": proposal_id,
                "version": version,
                "title": title,
                "amount": amount,
                "sent_on": sent_on,
                "valid_until": valid_until,
                "line_items": line_items,
                "revises": revises,
                "superseded_by": None,
                "status": "sent",
                "history": [{"status": "sent", "on": sent_on, "reason": None}],
            }
        )

    def record_proposal_outcome(self, *, proposal_id: str, outcome: str, on: date, reason: str | None = None) -> None:
        """The customer accepted or rejected a proposal, or asked for a revision."""
        outcome = ProposalOutcome.parse(outcome, "outcome")
        on = business_date(on, "on")
        reason = optional_text(reason, "reason")
        proposal = self._proposal(proposal_id)
        if on < proposal["sent_on"]:
            raise InvalidInput(f"on ({on}) is before the proposal was sent ({proposal['sent_on']})", field="on")
        if proposal["status"] != "sent":
            raise Conflict(
                f"the proposal is already {proposal['status']}",
                code="proposal_decided",
                proposal_id=proposal_id,
                status=proposal["status"],
            )
        if self.status == LOST and outcome == ProposalOutcome.ACCEPTED:
            self._require_open("accept a proposal")
        self._proposal_outcome_recorded(proposal_id=proposal_id, outcome=outcome, on=on, reason=reason)

    @event("ProposalOutcomeRecorded")
    def _proposal_outcome_recorded(self, proposal_id: str, outcome: str, on: date, reason: str | None) -> None:
        proposal = self._proposal(proposal_id)
        proposal["status"] = outcome
        proposal["history"].append({"status": outcome, "on": on, "reason": reason})

    # -- negotiation (budget, decision process, decision makers, competitors) -------------------
    def update_negotiation(
        self,
        *,
        on: date,
        budget: object | None = None,
        decision_process: str | None = None,
        decision_makers: list[str] | None = None,
        competitors: list[str] | None = None,
        stakeholders: Collection[str] | None = None,
    ) -> None:
        """The negotiation picture as of `on`: only the fields given change; each change is kept
        (from, to) in order. `decision_makers` are stakeholder ids of the customer (`stakeholders`)."""
        on = business_date(on, "on")
        self._not_before_opening(on, "on")
        given: dict[str, Any] = {}
        if budget is not None:
            given["budget"] = money(budget, field="budget", allow_zero=True)
        if decision_process is not None:
            given["decision_process"] = required_text(decision_process, "decision_process", max_length=2000)
        if decision_makers is not None:
            given["decision_makers"] = _names(decision_makers, "decision_makers")
            unknown = [s for s in given["decision_makers"] if stakeholders is not None and s not in stakeholders]
            if unknown:
                raise InvalidInput(
                    "decision_makers must be stakeholder ids of the deal's customer",
                    field="decision_makers",
                    unknown=unknown,
                )
        if competitors is not None:
            given["competitors"] = _names(competitors, "competitors")
        if not given:
            raise InvalidInput(f"give at least one of: {', '.join(NEGOTIATION_FIELDS)}", field="negotiation")
        last = self.negotiation["as_of"]
        if last is not None and on < last:
            raise InvalidInput(f"on ({on}) is before the last negotiation change ({last})", field="on")
        self._require_open("change the negotiation")
        changes = {k: {"from": self.negotiation[k], "to": v} for k, v in given.items() if self.negotiation[k] != v}
        if not changes:
            raise Conflict("the negotiation picture is unchanged", code="negotiation_unchanged")
        self._negotiation_updated(on=on, changes=changes)

    def negotiation_on(self, day: date) -> dict[str, Any]:
        """The negotiation picture as it stood on `day` (business date), from the changes kept."""
        picture = empty_negotiation()
        for entry in self.negotiation_history:
            if entry["on"] > day:
                break
            picture.update({key: change["to"] for key, change in entry["changes"].items()}, as_of=entry["on"])
        return picture

    @event("NegotiationUpdated")
    def _negotiation_updated(self, on: date, changes: dict[str, dict[str, Any]]) -> None:
        for key, change in changes.items():
            self.negotiation[key] = change["to"]
        self.negotiation["as_of"] = on
        self.negotiation_history.append({"on": on, "changes": changes})

    # -- delivery (交付) -------------------------------------------------------------------------
    def _milestone(self, name: str) -> dict[str, Any]:
        for milestone in self.delivery:
            if milestone["name"] == name:
                return milestone
        raise NotFound(f"no delivery milestone {name!r} on this deal", kind="milestone", id=name)

    def plan_delivery(self, milestones: list[dict[str, Any]]) -> None:
        """Delivery milestones of a won deal, no earlier than the signing date. Naming an existing
        milestone that is not done yet plans it again (the event keeps the date it had)."""
        if not isinstance(milestones, list) or not milestones:
            raise InvalidInput("milestones must be a non-empty list", field="milestones")
        parsed: list[dict[str, Any]] = []
        for i, raw in enumerate(milestones):
            if not isinstance(raw, dict):
                raise InvalidInput("each milestone is an object {name, planned_on}", field=f"milestones[{i}]")
            name = required_text(raw.get("name"), f"milestones[{i}].name", max_length=200)
            if any(p["name"] == name for p in parsed):
                raise InvalidInput("a milestone name appears twice", field=f"milestones[{i}].name", name=name)
            parsed.append(
                {"name": name, "planned_on": business_date(raw.get("planned_on"), f"milestones[{i}].planned_on")}
            )
        self._require_won("plan the delivery")
        assert self.signed_on is not None  # won
        planned: list[dict[str, Any]] = []
        for i, milestone in enumerate(parsed):
            if milestone["planned_on"] < self.signed_on:
                raise InvalidInput(
                    f"planned_on is before the contract was signed ({self.signed_on})",
                    field=f"milestones[{i}].planned_on",
                )
            known = next((m for m in self.delivery if m["name"] == milestone["name"]), None)
            if known is not None and known["done_on"] is not None:
                raise Conflict("the milestone is already done", code="milestone_done", name=milestone["name"])
            if known is None or known["planned_on"] != milestone["planned_on"]:
                planned.append({**milestone, "previously_planned_on": known and known["planned_on"]})
        if not planned:
            raise Conflict("the delivery plan is unchanged", code="delivery_unchanged")
        self._delivery_planned(milestones=planned)

    @event("DeliveryPlanned")
    def _delivery_planned(self, milestones: list[dict[str, Any]]) -> None:
        for milestone in milestones:
            known = next((m for m in self.delivery if m["name"] == milestone["name"]), None)
            if known is None:
                self.delivery.append(
                    {"name": milestone["name"], "planned_on": milestone["planned_on"], "done_on": None}
                )
            else:
                known["planned_on"] = milestone["planned_on"]

    def complete_milestone(self, *, name: str, on: date) -> None:
        on = business_date(on, "on")
        milestone = self._milestone(name)
        if milestone["done_on"] is not None:
            raise Conflict("the milestone is already done", code="milestone_done", name=name)
        if self.signed_on is not None and on < self.signed_on:
            raise InvalidInput(f"on is before the contract was signed ({self.signed_on})", field="on")
        self._milestone_done(name=name, on=on, planned_on=milestone["planned_on"])

    @event("MilestoneDone")
    def _milestone_done(self, name: str, on: date, planned_on: date) -> None:
        self._milestone(name)["done_on"] = on


def parse_line_items(items: list[dict[str, Any]], field: str = "line_items") -> list[dict[str, Any]]:
    """Product lines with amount and gross margin (at most the amount)."""
    if not isinstance(items, list):
        raise InvalidInput(f"{field} must be a list", field=field)
    parsed: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput("each line item is an object {product_line, amount}", field=f"{field}[{i}]")
        amount = money(item.get("amount"), field=f"{field}[{i}].amount", allow_zero=True)
        margin = money(
            item.get("gross_margin", "0"),
            field=f"{field}[{i}].gross_margin",
            allow_zero=True,
            allow_negative=True,
        )
        if margin > amount:
            raise InvalidInput("a line's gross margin cannot exceed its amount", field=f"{field}[{i}]")
        parsed.append(
            {
                "product_line": required_text(item.get("product_line"), f"{field}[{i}].product_line", max_length=200),
                "amount": amount,
                "gross_margin": margin,
            }
        )
    return parsed


def _names(values: object, field: str) -> list[str]:
    """A list of distinct non-empty names (first spelling kept, order kept)."""
    if not isinstance(values, list):
        raise InvalidInput(f"{field} must be a list", field=field)
    names: list[str] = []
    for i, value in enumerate(values):
        name = required_text(value, f"{field}[{i}]", max_length=200)
        if name not in names:
            names.append(name)
    return names


def _share(raw: Any, field: str) -> Decimal:
    try:
        share = Decimal(str(raw))
    except ArithmeticError:
        share = None
    if isinstance(raw, (float, bool)) or share is None or not share.is_finite() or not 0 < share <= 1:
        raise InvalidInput("share must be a decimal string in (0, 1]", field=field)
    return share


def parse_splits(splits: list[dict[str, Any]]) -> list[Split]:
    """Validate revenue-credit splits: distinct reps, shares in (0, 1] totalling exactly 1."""
    if not isinstance(splits, list) or not splits:
        raise InvalidInput("splits must be a non-empty list", field="splits")
    parsed: list[Split] = []
    seen: set[str] = set()
    for i, split in enumerate(splits):
        if not isinstance(split, dict):
            raise InvalidInput("each split is an object {rep_id, share}", field=f"splits[{i}]")
        rep_id = required_text(split.get("rep_id"), f"splits[{i}].rep_id")
        share = _share(split.get("share"), f"splits[{i}].share")
        if rep_id in seen:
            raise InvalidInput("a rep appears twice in splits", field="splits", rep_id=rep_id)
        seen.add(rep_id)
        parsed.append({"rep_id": rep_id, "share": share})
    total = sum((s["share"] for s in parsed), Decimal(0))
    if total != 1:
        raise InvalidInput("split shares must total exactly 1", field="splits", total=str(total))
    return parsed


def dump_splits(splits: Sequence[Mapping[str, object]]) -> str:
    """Splits as stored in read models: the contract's shape, `[{"rep_id", "share"}]`, shares as strings."""
    return json.dumps([{"rep_id": s["rep_id"], "share": str(s["share"])} for s in splits], ensure_ascii=False)


def load_splits(text: str) -> list[Split]:
    """Stored splits back as `{"rep_id", "share": Decimal}`, read by the one parser (`parse_splits`)."""
    return parse_splits(json.loads(text))


def parse_overlays(overlays: list[dict[str, Any]]) -> list[Overlay]:
    """Overlay credit (presales, a channel partner): recorded beside the splits, never part of the 1."""
    parsed: list[Overlay] = []
    for i, overlay in enumerate(overlays):
        party = required_text(overlay.get("party"), f"overlays[{i}].party", max_length=200)
        parsed.append(
            {
                "party": party,
                "kind": OverlayKind.parse(overlay.get("kind"), f"overlays[{i}].kind"),
                "share": _share(overlay.get("share"), f"overlays[{i}].share"),
            }
        )
    return parsed
