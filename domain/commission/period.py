"""A commission period (a month): manual adjustments and deductions, disputes, and the close
that freezes every statement with its digest. Nothing later edits a closed period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput, NotFound
from domain.values import Period, money, required_text


def period_id(period: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"salesledger:commission-period:{period}")


def month(text: str) -> Period:
    period = Period.parse(text)
    if period.kind != "month":
        raise InvalidInput("commission periods are months (YYYY-MM)", field="period", value=text)
    return period


class CommissionPeriod(Entity):
    @event("Opened")
    def __init__(self, id: UUID, period: str) -> None:
        self.period = period
        self.status = "open"
        self.adjustments: list[dict[str, Any]] = []
        self.disputes: dict[str, dict[str, Any]] = {}
        self.statements: dict[str, dict[str, Any]] = {}
        self.as_of_position: int | None = None
        self.closed_at: str | None = None

    @classmethod
    def start(cls, period: str) -> CommissionPeriod:
        label = month(period).label
        return cls(id=period_id(label), period=label)

    def _require_open(self, action: str) -> None:
        if self.status != "open":
            raise Conflict(
                f"cannot {action}: {self.period} is closed; post it to an open period",
                code="period_closed",
                period=self.period,
            )

    def post_adjustment(
        self,
        *,
        adjustment_id: str,
        rep_id: str,
        kind: str,
        amount: object,
        reason: str,
        approver_id: str,
        dispute_id: str | None = None,
        corrects_line: str | None = None,
    ) -> None:
        """A manual adjustment (positive) or deduction (a penalty, 惩罚: entered positive, paid negative)."""
        if kind not in ("adjustment", "deduction"):
            raise InvalidInput("kind must be adjustment or deduction", field="kind")
        value = money(amount, allow_negative=kind == "adjustment")
        self._require_open("post an adjustment")
        self._adjusted(
            adjustment_id=adjustment_id,
            rep_id=rep_id,
            kind=kind,
            amount=-value if kind == "deduction" else value,
            reason=required_text(reason, "reason"),
            approver_id=approver_id,
            dispute_id=dispute_id,
            corrects_line=corrects_line,
        )

    @event("AdjustmentPosted")
    def _adjusted(
        self,
        adjustment_id: str,
        rep_id: str,
        kind: str,
        amount: Decimal,
        reason: str,
        approver_id: str,
        dispute_id: str | None,
        corrects_line: str | None,
    ) -> None:
        self.adjustments.append(
            {
                "adjustment_id": adjustment_id,
                "rep_id": rep_id,
                "kind": kind,
                "amount": amount,
                "reason": reason,
                "approver_id": approver_id,
                "dispute_id": dispute_id,
                "corrects_line": corrects_line,
            }
        )

    def open_dispute(self, *, dispute_id: str, rep_id: str, line_id: str, reason: str) -> None:
        self._dispute_opened(
            dispute_id=dispute_id, rep_id=rep_id, line_id=line_id, reason=required_text(reason, "reason")
        )

    @event("DisputeOpened")
    def _dispute_opened(self, dispute_id: str, rep_id: str, line_id: str, reason: str) -> None:
        self.disputes[dispute_id] = {
            "dispute_id": dispute_id,
            "rep_id": rep_id,
            "line_id": line_id,
            "reason": reason,
            "status": "open",
        }

    def dispute(self, dispute_id: str) -> dict[str, Any]:
        try:
            return self.disputes[dispute_id]
        except KeyError:
            raise NotFound(f"no dispute {dispute_id} in {self.period}", kind="dispute", id=dispute_id) from None

    def resolve_dispute(
        self, *, dispute_id: str, outcome: str, reason: str, resolver_id: str, amount: Decimal | None = None
    ) -> None:
        dispute = self.dispute(dispute_id)
        if dispute["status"] != "open":
            raise Conflict("the dispute is already resolved", code="dispute_resolved")
        if outcome not in ("accepted", "rejected"):
            raise InvalidInput("outcome must be accepted or rejected", field="outcome")
        self._dispute_resolved(
            dispute_id=dispute_id,
            outcome=outcome,
            reason=required_text(reason, "reason"),
            resolver_id=resolver_id,
            amount=amount,
        )

    @event("DisputeResolved")
    def _dispute_resolved(
        self, dispute_id: str, outcome: str, reason: str, resolver_id: str, amount: Decimal | None
    ) -> None:
        self.disputes[dispute_id].update(status=outcome, resolution=reason, resolver_id=resolver_id, amount=amount)

    def close(self, *, statements: dict[str, dict[str, Any]], as_of_position: int, closed_at: str) -> None:
        """Freeze every statement: one event per statement (its lines and digest), then the period
        event listing the statements with their digests and totals."""
        self._require_open("close the period")
        for rep_id in sorted(statements):
            self._statement_closed(rep_id=rep_id, statement=statements[rep_id])
        self._closed(
            period=self.period,
            statements={
                rep_id: {"digest": s["digest"], "total": s["total"]} for rep_id, s in sorted(statements.items())
            },
            as_of_position=as_of_position,
            closed_at=closed_at,
        )

    @event("StatementClosed")
    def _statement_closed(self, rep_id: str, statement: dict[str, Any]) -> None:
        self.statements[rep_id] = dict(statement)

    @event("Closed")
    def _closed(
        self, period: str, statements: dict[str, Any], as_of_position: int, closed_at: str | None = None
    ) -> None:
        self.status = "closed"
        for rep_id, kept in statements.items():
            if "lines" in kept:  # closed before statements had events of their own: kept whole here
                self.statements[rep_id] = dict(kept)
        self.as_of_position = as_of_position
        self.closed_at = closed_at

    # -- payouts: closed -> approved -> paid -----------------------------------------------------
    def statement(self, rep_id: str) -> dict[str, Any]:
        try:
            return self.statements[rep_id]
        except KeyError:
            raise NotFound(
                f"no statement for rep {rep_id} in {self.period}", kind="statement", id=f"{rep_id}/{self.period}"
            ) from None

    def _require_closed(self, action: str) -> None:
        if self.status != "closed":
            raise Conflict(f"cannot {action}: {self.period} is not closed", code="not_closed", period=self.period)

    def approve(self, *, rep_id: str, by: str, at: str) -> None:
        """Finance approves a closed statement for payment."""
        self._require_closed("approve the statement")
        status = self.statement(rep_id).get("status", "closed")
        if status != "closed":
            raise Conflict(
                f"only a closed statement can be approved; this one is {status}",
                code="not_closed",
                rep_id=rep_id,
                period=self.period,
                status=status,
            )
        self._approved(rep_id=rep_id, by=by, at=at)

    @event("StatementApproved")
    def _approved(self, rep_id: str, by: str, at: str) -> None:
        self.statements[rep_id].update(status="approved", approved_by=by, approved_at=at)

    def pay(self, *, rep_id: str, paid_on: date, reference: str, by: str, at: str) -> None:
        """Finance records the payment of an approved statement."""
        self._require_closed("pay the statement")
        status = self.statement(rep_id).get("status", "closed")
        if status != "approved":
            raise Conflict(
                f"only an approved statement can be paid; this one is {status}",
                code="not_approved",
                rep_id=rep_id,
                period=self.period,
                status=status,
            )
        self._paid(
            rep_id=rep_id,
            paid_on=business_date(paid_on, "paid_on"),
            reference=required_text(reference, "reference"),
            by=by,
            at=at,
        )

    @event("StatementPaid")
    def _paid(self, rep_id: str, paid_on: date, reference: str, by: str, at: str) -> None:
        self.statements[rep_id].update(status="paid", paid_on=paid_on, reference=reference, paid_by=by, paid_at=at)

    def acknowledge(self, *, rep_id: str, by: str, at: str) -> None:
        """The rep acknowledges having seen their closed statement."""
        self._require_closed("acknowledge the statement")
        self.statement(rep_id)
        self._acknowledged(rep_id=rep_id, by=by, at=at)

    @event("StatementAcknowledged")
    def _acknowledged(self, rep_id: str, by: str, at: str) -> None:
        self.statements[rep_id].update(acknowledged_by=by, acknowledged_at=at)
