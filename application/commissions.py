"""Commission plans, plan assignments, and the commission period: adjustments, disputes, close."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar
from uuid import uuid4

from application.base import UseCases
from domain.base import Entity
from domain.commission.period import CommissionPeriod, month, period_id
from domain.commission.plan import Plan
from domain.errors import Conflict, NotFound
from domain.rep import Rep
from domain.values import money

T = TypeVar("T", bound=Entity)


class Commissions(UseCases):
    """Commission plans, plan assignments, and the commission period: adjustments, disputes, close."""

    def create_plan(self, meta, body: Any, *, id=None):
        plan = Plan.create(id or uuid4(), body)
        return self._written(meta, plan, plan_version=1)

    def add_plan_version(self, meta, plan_id: str, body: Any):
        plan = self.load(Plan, plan_id)
        version = plan.add_version(body)
        written = self._written(meta, plan, plan_version=version)
        return type(written)(written.id, version, written.position, {"aggregate_version": written.version})

    def assign_plan(self, meta, rep_id: str, *, plan_id: str, effective_from: date):
        try:
            plan = self.load(Plan, plan_id)
        except NotFound:
            raise NotFound(f"plan_id: no plan with id {plan_id}", field="plan_id") from None
        return self._change(
            meta, Rep, rep_id, None, lambda r: r.assign_plan(plan_id=str(plan.id), effective_from=effective_from)
        )

    def commission_period(self, period: str) -> CommissionPeriod:
        label = month(period).label
        try:
            return self.load(CommissionPeriod, period_id(label))
        except NotFound:
            return CommissionPeriod.start(label)

    def _approver(self, rep_id: str, field: str) -> str:
        approver = self._active_rep(rep_id, field)
        if approver.level not in ("manager", "director"):
            raise Conflict(f"{field} must be a manager or director", code="approver_not_allowed", level=approver.level)
        return str(approver.id)

    def post_commission_adjustment(
        self, meta, period: str, *, rep_id: str, kind: str, amount: object, reason: str, approver_id: str
    ):
        rep = str(self.load(Rep, rep_id).id)
        approver = self._approver(approver_id, "approver_id")
        ledger = self.commission_period(period)
        adjustment_id = uuid4().hex
        ledger.post_adjustment(
            adjustment_id=adjustment_id, rep_id=rep, kind=kind, amount=amount, reason=reason, approver_id=approver
        )
        written = self._written(meta, ledger, adjustment_id=adjustment_id)
        return written

    def open_dispute(self, meta, period: str, *, rep_id: str, line_id: str, reason: str):
        ledger = self.commission_period(period)
        dispute_id = uuid4().hex
        ledger.open_dispute(dispute_id=dispute_id, rep_id=rep_id, line_id=line_id, reason=reason)
        return self._written(meta, ledger, dispute_id=dispute_id)

    def resolve_dispute(
        self,
        meta,
        period: str,
        dispute_id: str,
        *,
        outcome: str,
        reason: str,
        resolver_id: str,
        amount: object | None = None,
        post_to: str | None = None,
    ):
        """Finance resolves: accepted posts an adjustment (to this period, or `post_to` if this one
        is closed); rejected records the reason."""
        ledger = self.commission_period(period)
        dispute = ledger.dispute(dispute_id)
        resolver = self._approver(resolver_id, "resolver_id")
        value = money(amount, allow_negative=True) if outcome == "accepted" else None
        ledger.resolve_dispute(
            dispute_id=dispute_id, outcome=outcome, reason=reason, resolver_id=resolver, amount=value
        )
        changed = [ledger]
        if outcome == "accepted":
            target = ledger if post_to in (None, ledger.period) else self.commission_period(post_to)
            if target is not ledger:
                changed.append(target)
            target.post_adjustment(
                adjustment_id=uuid4().hex,
                rep_id=dispute["rep_id"],
                kind="adjustment",
                amount=value,
                reason=f"dispute accepted: {reason}",
                approver_id=resolver,
                dispute_id=dispute_id,
                corrects_line=dispute["line_id"],
            )
        return self._written(meta, *changed, outcome=outcome)

    def close_commission_period(self, meta, period: str, *, statements: dict, as_of_position: int):
        ledger = self.commission_period(period)
        ledger.close(statements=statements, as_of_position=as_of_position)
        return self._written(meta, ledger, period=ledger.period, statements=len(statements))
