"""The Deal aggregate: an opportunity from first contact to a signed contract, its cash and refunds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput
from domain.values import Stage, currency, money, optional_text, required_text

OPEN, WON, LOST = "open", "won", "lost"


class Deal(Entity):
    @event("Opened")
    def __init__(self, id: UUID, customer_id: str, owner_id: str, amount: Decimal, currency: str,
                 product_line: str, title: str | None, expected_close: date | None, opened_on: date,
                 lead_id: str | None = None) -> None:
        self.customer_id = customer_id
        self.owner_id = owner_id
        self.amount = amount
        self.currency = currency
        self.product_line = product_line
        self.title = title
        self.expected_close = expected_close
        self.opened_on = opened_on
        self.lead_id = lead_id
        self.stage = Stage.INITIAL_CONTACT.value
        self.status = OPEN
        self.splits = [{"rep_id": owner_id, "share": Decimal("1")}]
        self.signed_amount: Decimal | None = None
        self.gross_margin: Decimal | None = None
        self.signed_on: date | None = None
        self.contract_no: str | None = None
        self.lost_reason: str | None = None
        self.payments: list[dict] = []
        self.refunds: list[dict] = []

    @classmethod
    def open(cls, id: UUID, *, customer_id: str, owner_id: str, amount: object, product_line: str,
             opened_on: date, currency_code: str | None = None, title: str | None = None,
             expected_close: date | None = None, lead_id: str | None = None) -> Deal:
        """A new opportunity; the amount may be zero while it is still being estimated."""
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
        )

    # -- derived state -------------------------------------------------------------------------
    @property
    def collected(self) -> Decimal:
        return sum((p["amount"] for p in self.payments), Decimal("0.00"))

    @property
    def refunded(self) -> Decimal:
        return sum((r["amount"] for r in self.refunds), Decimal("0.00"))

    @property
    def receivable(self) -> Decimal:
        """Signed, less refunds, less what was collected; never below zero."""
        if self.signed_amount is None:
            return Decimal("0.00")
        return max(self.signed_amount - self.refunded - self.collected, Decimal("0.00"))

    def as_dict(self) -> dict:
        state = super().as_dict()
        state.update(collected=self.collected, refunded=self.refunded, receivable=self.receivable)
        return state

    # -- commands ------------------------------------------------------------------------------
    def _require_open(self, action: str) -> None:
        if self.status != OPEN:
            raise Conflict(f"cannot {action}: the deal is {self.status}", code="deal_closed",
                           deal_id=str(self.id), status=self.status)

    def _require_won(self, action: str) -> None:
        if self.status != WON:
            raise Conflict(f"cannot {action}: the deal is {self.status}, not won", code="deal_not_won",
                           deal_id=str(self.id), status=self.status)

    def change_stage(self, stage: str) -> None:
        to = Stage.parse(stage, "stage")
        self._require_open("change the stage")
        if to == self.stage:
            raise Conflict(f"the deal is already in stage {to}", code="stage_unchanged", stage=to)
        self._stage_changed(from_stage=self.stage, to_stage=to)

    @event("StageChanged")
    def _stage_changed(self, from_stage: str, to_stage: str) -> None:
        self.stage = to_stage

    def set_splits(self, splits: list[dict]) -> None:
        parsed = parse_splits(splits)
        self._require_open("change the revenue splits")
        self._splits_set(splits=parsed)

    @event("SplitsSet")
    def _splits_set(self, splits: list[dict]) -> None:
        self.splits = splits

    def win(self, *, amount: object, gross_margin: object, signed_on: date,
            contract_no: str | None = None) -> None:
        signed = money(amount)
        margin = money(gross_margin, field="gross_margin", allow_zero=True, allow_negative=True)
        if margin > signed:
            raise InvalidInput("gross_margin cannot exceed the signed amount", field="gross_margin")
        self._require_open("win the deal")
        self._won(amount=signed, gross_margin=margin, signed_on=business_date(signed_on, "signed_on"),
                  contract_no=optional_text(contract_no, "contract_no", max_length=100))

    @event("Won")
    def _won(self, amount: Decimal, gross_margin: Decimal, signed_on: date, contract_no: str | None) -> None:
        self.status = WON
        self.signed_amount = amount
        self.gross_margin = gross_margin
        self.signed_on = signed_on
        self.contract_no = contract_no

    def lose(self, *, reason: str, competitor: str | None = None, notes: str | None = None) -> None:
        reason = required_text(reason, "reason")
        self._require_open("lose the deal")
        self._lost(reason=reason, competitor=optional_text(competitor, "competitor"),
                   notes=optional_text(notes, "notes"))

    @event("Lost")
    def _lost(self, reason: str, competitor: str | None, notes: str | None) -> None:
        self.status = LOST
        self.lost_reason = reason

    def receive_payment(self, *, amount: object, received_on: date) -> None:
        paid = money(amount)
        received_on = business_date(received_on, "received_on")
        self._require_won("record a payment")
        outstanding = self.signed_amount - self.collected
        if paid > outstanding:
            raise Conflict("payment exceeds the amount still receivable", code="overpayment",
                           amount=str(paid), receivable=str(outstanding))
        self._payment_received(amount=paid, received_on=received_on)

    @event("PaymentReceived")
    def _payment_received(self, amount: Decimal, received_on: date) -> None:
        self.payments.append({"amount": amount, "received_on": received_on})

    def refund(self, *, amount: object, refunded_on: date, reason: str) -> None:
        refund = money(amount)
        refunded_on = business_date(refunded_on, "refunded_on")
        reason = required_text(reason, "reason")
        self._require_won("record a refund")
        room = self.signed_amount - self.refunded
        if refund > room:
            raise Conflict("refunds would exceed the signed amount", code="over_refund",
                           amount=str(refund), refundable=str(room))
        self._refunded(amount=refund, refunded_on=refunded_on, reason=reason)

    @event("Refunded")
    def _refunded(self, amount: Decimal, refunded_on: date, reason: str) -> None:
        self.refunds.append({"amount": amount, "refunded_on": refunded_on, "reason": reason})


def parse_splits(splits: list[dict]) -> list[dict]:
    """Validate revenue-credit splits: distinct reps, shares in (0, 1] totalling exactly 1."""
    if not isinstance(splits, list) or not splits:
        raise InvalidInput("splits must be a non-empty list", field="splits")
    parsed, seen = [], set()
    for i, split in enumerate(splits):
        rep_id = required_text(split.get("rep_id"), f"splits[{i}].rep_id")
        raw = split.get("share")
        try:
            share = Decimal(str(raw))
        except ArithmeticError:
            share = None
        if isinstance(raw, (float, bool)) or share is None or not share.is_finite() or not 0 < share <= 1:
            raise InvalidInput("share must be a decimal string in (0, 1]", field=f"splits[{i}].share")
        if rep_id in seen:
            raise InvalidInput("a rep appears twice in splits", field="splits", rep_id=rep_id)
        seen.add(rep_id)
        parsed.append({"rep_id": rep_id, "share": share})
    total = sum((s["share"] for s in parsed), Decimal(0))
    if total != 1:
        raise InvalidInput("split shares must total exactly 1", field="splits", total=str(total))
    return parsed
