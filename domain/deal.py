"""The Deal aggregate: an opportunity from first contact to a signed contract, its cash,
refunds and cancellations. Probabilities, loss reasons and payment terms come from the sales
policy and are recorded in the events that applied them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypedDict
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput
from domain.receivables import kept, receivable
from domain.values import Choice, Stage, currency, money, optional_text, required_text

OPEN, WON, LOST = "open", "won", "lost"


class OverlayKind(Choice):
    PRESALES = "presales"
    CHANNEL_PARTNER = "channel_partner"


class RefundKind(Choice):
    REFUND = "refund"  # money paid back
    CANCELLATION = "cancellation"  # part of the contract cancelled before it was paid


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
        parsed: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            amount = money(item.get("amount"), field=f"line_items[{i}].amount", allow_zero=True)
            margin = money(
                item.get("gross_margin", "0"),
                field=f"line_items[{i}].gross_margin",
                allow_zero=True,
                allow_negative=True,
            )
            if margin > amount:
                raise InvalidInput("a line's gross margin cannot exceed its amount", field=f"line_items[{i}]")
            parsed.append(
                {
                    "product_line": required_text(
                        item.get("product_line"), f"line_items[{i}].product_line", max_length=200
                    ),
                    "amount": amount,
                    "gross_margin": margin,
                }
            )
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
