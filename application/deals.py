"""Deals from opening to win or loss, money collected and refunded, and the sales policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from application import clock
from application.base import UseCases, Written
from application.reads import ReadModels
from domain.base import Entity, Meta
from domain.customer import Customer
from domain.deal import Deal, parse_splits
from domain.errors import Conflict, NotFound
from domain.rep import Rep
from domain.sales_policy import SALES_POLICY_ID, SalesPolicy
from domain.values import OPEN_STAGES, Stage, can_manage, money, required_text
from infrastructure.store import EventStore
from projections.accounts import exposure

T = TypeVar("T", bound=Entity)


class Deals(UseCases):
    """Deals from opening to win or loss, money collected and refunded, and the sales policy."""

    def __init__(self, store: EventStore, reads: ReadModels) -> None:
        super().__init__(store)
        self.reads = reads

    def configure_sales_policy(self, meta: Meta, *, settings: dict[str, Any], reason: str) -> Written:
        try:
            policy = self.load(SalesPolicy, SALES_POLICY_ID)
            policy.configure(settings, reason)
        except NotFound:
            policy = SalesPolicy.configure_first(settings, reason)
        return self._written(meta, policy, policy_version=policy.version)

    def open_deal(
        self,
        meta: Meta,
        *,
        customer_id: str,
        owner_id: str,
        amount: object,
        product_line: str,
        opened_on: date | None = None,
        currency: str | None = None,
        title: str | None = None,
        expected_close: date | None = None,
        credit_override: dict[str, Any] | None = None,
        id: UUID | None = None,
    ) -> Written:
        """Open a deal (on `opened_on`, or today in the organisation's time zone).

        A customer with a credit limit refuses a deal that would take its exposure (open deal
        amounts plus receivables, read from the accounts read model made current first) over the
        limit, unless a manager or director above the owner (as of the opening date) overrides
        with a reason; the override is recorded on the deal."""
        try:
            customer = self.load(Customer, customer_id)
        except NotFound:
            raise NotFound(
                f"customer_id: no customer with id {customer_id}", field="customer_id", id=str(customer_id)
            ) from None
        owner = self._active_rep(owner_id, "owner_id")
        stated = opened_on is not None
        day = opened_on if opened_on is not None else clock.today()
        override = self._credit_check(customer, owner, day, money(amount, allow_zero=True), credit_override)
        policy = self.sales_policy()
        deal = Deal.open(
            id or uuid4(),
            customer_id=str(customer.id),
            owner_id=str(owner.id),
            amount=amount,
            product_line=product_line,
            opened_on=day,
            currency_code=currency,
            title=title,
            expected_close=expected_close,
            probability=policy.probability(Stage.INITIAL_CONTACT),
            credit_override=override,
            opened_on_stated=stated,
        )
        return self._written(meta, deal)

    def customer_exposure(self, customer_id: str) -> Decimal:
        """Open deal amounts plus receivables of a customer, as of every event stored so far."""
        with self.reads.current("accounts") as tx:
            return exposure(tx, customer_id, clock.today())

    def _credit_check(
        self, customer: Customer, owner: Rep, opened_on: date, amount: Decimal, override: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        if customer.credit is None:
            return None
        current = self.customer_exposure(str(customer.id))
        if current + amount <= customer.credit["limit"]:
            return None
        details = {
            "limit": str(customer.credit["limit"]),
            "exposure": str(current),
            "amount": str(amount),
            "rating": customer.credit["rating"],
        }
        if not override:
            raise Conflict(
                f"the deal would take the customer's exposure to {current + amount}, over its credit "
                f"limit of {customer.credit['limit']}; a manager above the owner may override with a reason",
                code="credit_limit_exceeded",
                **details,
            )
        manager = self._active_rep(override.get("manager_id"), "credit_override.manager_id")
        chain = self._managers_above(owner, opened_on)
        if not can_manage(chain.get(str(manager.id))):
            raise Conflict(
                "only a manager in the owner's line of management, or a director above them, "
                f"can override a credit limit (as of {opened_on})",
                code="override_not_allowed",
                field="credit_override.manager_id",
                manager_id=str(manager.id),
                owner_id=str(owner.id),
                level=manager.level,
                managers_above_owner=list(chain),
            )
        return {
            "manager_id": str(manager.id),
            "reason": required_text(override.get("reason"), "credit_override.reason"),
            **details,
        }

    def _managers_above(self, rep: Rep, day: date) -> dict[str, str | None]:
        """The rep's manager, their manager and so on, on `day`, each with their level then."""
        chain: dict[str, str | None] = {}
        current = (rep.as_of(day) or {}).get("manager_id")
        while current and current not in chain and current != str(rep.id):
            try:
                above = self.load(Rep, current)
            except NotFound:
                break
            attrs = above.as_of(day) or {}
            chain[str(above.id)] = attrs.get("level")
            current = attrs.get("manager_id")
        return chain

    def change_deal_stage(
        self,
        meta: Meta,
        deal_id: str,
        stage: str,
        *,
        changed_on: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """Move the deal to another open stage on `changed_on` (default: today in the
        organisation's time zone); the answer states the date used."""
        day = changed_on if changed_on is not None else clock.today()
        policy = self.sales_policy()
        probability = policy.probability(stage) if stage in OPEN_STAGES else None
        written = self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.change_stage(stage, changed_on=day, probability=probability),
        )
        return replace(written, extra={**written.extra, "changed_on": day})

    def revise_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        reason: str,
        amount: object | None = None,
        expected_close: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.revise(reason=reason, amount=amount, expected_close=expected_close),
        )

    def set_deal_line_items(
        self, meta: Meta, deal_id: str, items: list[dict[str, Any]], *, expected_version: int | None = None
    ) -> Written:
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.set_line_items(items))

    def set_deal_splits(
        self,
        meta: Meta,
        deal_id: str,
        splits: list[dict[str, Any]],
        *,
        overlays: list[dict[str, Any]] | None = None,
        expected_version: int | None = None,
    ) -> Written:
        parsed = [{**s, "rep_id": str(self._active_rep(s["rep_id"], "splits.rep_id").id)} for s in parse_splits(splits)]
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.set_splits(parsed, overlays))

    def win_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        amount: object,
        gross_margin: object,
        signed_on: date,
        contract_no: str | None = None,
        payment_due_on: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """Win; the customer becomes (or becomes again) active in the same write."""
        deal = self._expect(self.load(Deal, deal_id), expected_version)
        deal.win(
            amount=amount,
            gross_margin=gross_margin,
            signed_on=signed_on,
            contract_no=contract_no,
            payment_due_on=payment_due_on,
            payment_terms_days=self.sales_policy().settings["payment_terms_days"],
        )
        customer = self.load(Customer, deal.customer_id)
        if customer.lifecycle != "active":
            assert deal.signed_on is not None  # just won
            first = customer.lifecycle == "prospect"
            customer.move_lifecycle(
                to="active",
                on=deal.signed_on,
                allowed_from=("prospect", "dormant", "churned"),
                reason=f"{'first' if first else 'reactivated by a'} won deal {deal.id}",
            )
            return self._written(meta, deal, customer)
        return self._written(meta, deal)

    def lose_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        reason: str,
        competitor: str | None = None,
        notes: str | None = None,
        lost_on: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """Lose the deal on `lost_on` (default: today in the organisation's time zone); the
        answer states the date used."""
        day = lost_on if lost_on is not None else clock.today()
        allowed = self.sales_policy().settings["loss_reasons"]
        written = self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.lose(reason=reason, allowed=allowed, competitor=competitor, notes=notes, lost_on=day),
        )
        return replace(written, extra={**written.extra, "lost_on": day})

    def receive_payment(
        self, meta: Meta, deal_id: str, *, amount: object, received_on: date, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta, Deal, deal_id, expected_version, lambda d: d.receive_payment(amount=amount, received_on=received_on)
        )

    def refund_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        amount: object,
        refunded_on: date,
        reason: str,
        kind: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.refund(amount=amount, refunded_on=refunded_on, reason=reason, kind=kind),
        )

    # -- from proposal to delivery ---------------------------------------------------------------
    def send_proposal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        title: str,
        amount: object,
        sent_on: date,
        valid_until: date | None = None,
        line_items: list[dict[str, Any]] | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """A proposal (方案) sent to the customer; answers its `proposal_id` and `proposal_version`."""
        proposal_id = uuid4().hex
        deal = self._expect(self.load(Deal, deal_id), expected_version)
        deal.send_proposal(
            proposal_id=proposal_id,
            title=title,
            amount=amount,
            sent_on=sent_on,
            valid_until=valid_until,
            line_items=line_items,
        )
        return self._written(meta, deal, proposal_id=proposal_id, proposal_version=deal.proposals[-1]["version"])

    def record_proposal_outcome(
        self,
        meta: Meta,
        deal_id: str,
        proposal_id: str,
        *,
        outcome: str,
        on: date,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.record_proposal_outcome(proposal_id=proposal_id, outcome=outcome, on=on, reason=reason),
        )

    def update_negotiation(
        self,
        meta: Meta,
        deal_id: str,
        *,
        on: date,
        budget: object | None = None,
        decision_process: str | None = None,
        decision_makers: list[str] | None = None,
        competitors: list[str] | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """The negotiation picture as of `on`; decision makers must be stakeholders of the deal's customer."""
        deal = self._expect(self.load(Deal, deal_id), expected_version)
        stakeholders = set(self.load(Customer, deal.customer_id).stakeholders) if decision_makers is not None else None
        deal.update_negotiation(
            on=on,
            budget=budget,
            decision_process=decision_process,
            decision_makers=decision_makers,
            competitors=competitors,
            stakeholders=stakeholders,
        )
        return self._written(meta, deal)

    def negotiation_picture(self, deal_id: str, day: date | None = None) -> dict[str, Any]:
        """The deal's negotiation picture on `day` (default today) and every change up to then."""
        deal = self.load(Deal, deal_id)
        day = day if day is not None else clock.today()
        return {
            "deal_id": str(deal.id),
            "on": day,
            **deal.negotiation_on(day),
            "history": [entry for entry in deal.negotiation_history if entry["on"] <= day],
        }

    def plan_delivery(
        self, meta: Meta, deal_id: str, milestones: list[dict[str, Any]], *, expected_version: int | None = None
    ) -> Written:
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.plan_delivery(milestones))

    def complete_milestone(
        self, meta: Meta, deal_id: str, name: str, *, on: date, expected_version: int | None = None
    ) -> Written:
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.complete_milestone(name=name, on=on))
