"""Deals from opening to win or loss, money collected and refunded, and the sales policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

from application.base import UseCases, Written
from domain.base import Entity, Meta
from domain.customer import Customer
from domain.deal import Deal, parse_splits
from domain.errors import Conflict, NotFound
from domain.sales_policy import SALES_POLICY_ID, SalesPolicy
from domain.values import OPEN_STAGES, Stage, money, required_text

T = TypeVar("T", bound=Entity)


class Deals(UseCases):
    """Deals from opening to win or loss, money collected and refunded, and the sales policy."""

    def configure_sales_policy(self, meta: Meta, *, settings: dict, reason: str) -> Written:
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
        opened_on: date,
        currency: str | None = None,
        title: str | None = None,
        expected_close: date | None = None,
        exposure: Decimal | None = None,
        credit_override: dict | None = None,
        id: UUID | None = None,
    ) -> Written:
        """Open a deal. A customer with a credit limit refuses a deal that would take its exposure
        (open deal amounts plus receivables, given by the caller) over the limit, unless a manager
        overrides with a reason; the override is recorded on the deal."""
        try:
            customer = self.load(Customer, customer_id)
        except NotFound:
            raise NotFound(
                f"customer_id: no customer with id {customer_id}", field="customer_id", id=str(customer_id)
            ) from None
        owner = self._active_rep(owner_id, "owner_id")
        override = self._credit_check(
            customer, money(amount, allow_zero=True), exposure or Decimal("0.00"), credit_override
        )
        policy = self.sales_policy()
        deal = Deal.open(
            id or uuid4(),
            customer_id=str(customer.id),
            owner_id=str(owner.id),
            amount=amount,
            product_line=product_line,
            opened_on=opened_on,
            currency_code=currency,
            title=title,
            expected_close=expected_close,
            probability=policy.probability(Stage.INITIAL_CONTACT),
            credit_override=override,
        )
        return self._written(meta, deal)

    def _credit_check(
        self, customer: Customer, amount: Decimal, exposure: Decimal, override: dict | None
    ) -> dict | None:
        if customer.credit is None or exposure + amount <= customer.credit["limit"]:
            return None
        details = {
            "limit": str(customer.credit["limit"]),
            "exposure": str(exposure),
            "amount": str(amount),
            "rating": customer.credit["rating"],
        }
        if not override:
            raise Conflict(
                f"the deal would take the customer's exposure to {exposure + amount}, over its credit "
                f"limit of {customer.credit['limit']}; a manager may override with a reason",
                code="credit_limit_exceeded",
                **details,
            )
        manager = self._active_rep(override.get("manager_id"), "credit_override.manager_id")
        if manager.level not in ("manager", "director"):
            raise Conflict(
                "only a manager or director can override a credit limit",
                code="override_not_allowed",
                level=manager.level,
            )
        return {
            "manager_id": str(manager.id),
            "reason": required_text(override.get("reason"), "credit_override.reason"),
            **details,
        }

    def change_deal_stage(
        self,
        meta: Meta,
        deal_id: str,
        stage: str,
        *,
        changed_on: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        policy = self.sales_policy()
        probability = policy.probability(stage) if stage in OPEN_STAGES else None
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.change_stage(stage, changed_on=changed_on, probability=probability),
        )

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
        self, meta: Meta, deal_id: str, items: list[dict], *, expected_version: int | None = None
    ) -> Written:
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.set_line_items(items))

    def set_deal_splits(
        self,
        meta: Meta,
        deal_id: str,
        splits: list[dict],
        *,
        overlays: list[dict] | None = None,
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
        allowed = self.sales_policy().settings["loss_reasons"]
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.lose(reason=reason, allowed=allowed, competitor=competitor, notes=notes, lost_on=lost_on),
        )

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
