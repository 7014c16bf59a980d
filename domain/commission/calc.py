"""The statement calculation: pure, deterministic, explainable.

Given what happened (wins with their splits, payments, refunds), who was on which plan version
when, targets and the organisation, it answers every rep's lines for a month. Each line
carries its provenance (`explain`): plan, version, component, basis before and after, the tier
walk, the target used, the split share and the source events."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

from domain.fx import Rate
from domain.values import Period, base_currency, round_money

ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Source:
    """One event a line rests on."""

    type: str
    aggregate_id: str
    version: int
    position: int
    recorded_at: str
    actor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "position": self.position,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class Win:
    deal_id: str
    signed_on: date
    amount: Decimal
    margin: Decimal
    currency: str
    splits: tuple[tuple[str, Decimal], ...]
    source: Source
    overlays: tuple[tuple[str, Decimal], ...] = ()  # (party, share): credit beside the splits


@dataclass(frozen=True, slots=True)
class Money:
    """A payment or a refund/cancellation on a won deal."""

    deal_id: str
    day: date
    amount: Decimal
    kind: str  # payment | refund | cancellation
    source: Source


class Inputs(Protocol):
    wins: dict[str, Win]
    movements: list[Money]

    def plan_for(self, rep_id: str, day: date) -> tuple[str, dict[str, Any]] | None: ...
    def target(self, scope: str, period: Period, metric: str = "revenue") -> Decimal | None: ...
    def relief(self, rep_id: str, period: Period, metric: str) -> Decimal: ...
    def draw_balance(self, rep_id: str, period: Period) -> Decimal: ...
    def grade(self, scheme_id: str, period: str, rep_id: str) -> dict[str, Any] | None: ...
    def ancestors(self, rep_id: str, day: date) -> list[str]: ...
    def team_of(self, rep_id: str, day: date) -> str | None: ...
    def reps(self) -> list[str]: ...
    def name(self, rep_id: str) -> str: ...
    def rate(self, code: str, day: date) -> Rate | None: ...


@dataclass(slots=True)
class Line:
    rep_id: str
    period: str
    kind: str  # earned | clawback | override | bonus | adjustment | deduction
    component: str | None
    deal_id: str | None
    basis_amount: Decimal
    amount: Decimal
    plan_id: str | None
    plan_version: int | None
    key: str  # what the line is about, stable across recomputation
    explain: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return line_id(self.period, self.rep_id, self.key)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "deal_id": self.deal_id,
            "component": self.component,
            "basis_amount": self.basis_amount,
            "amount": self.amount,
            "plan_id": self.plan_id,
            "plan_version": self.plan_version,
        }


def line_id(period: str, rep_id: str, key: str) -> str:
    return f"{period}~{rep_id}~{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def digest(rep_id: str, period: str, currency: str, lines: list[dict[str, Any]]) -> str:
    """SHA-256 over a canonical serialisation: sorted keys, lines by id, decimals as strings."""
    canonical = {
        "rep_id": rep_id,
        "period": period,
        "currency": currency,
        "lines": sorted(
            ({k: (str(v) if isinstance(v, Decimal) else v) for k, v in line.items()} for line in lines),
            key=lambda x: x["id"],
        ),
        "total": str(sum((Decimal(str(line["amount"])) for line in lines), ZERO)),
    }
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- tiers ------------------------------------------------------------------------------------------
def bands(component: dict[str, Any], scale: Decimal | None) -> list[tuple[Decimal, Decimal | None, Decimal]]:
    """(low, high, rate) per band; band i covers (low, high]. Attainment bounds are scaled by the target."""
    out, low = [], ZERO
    for tier in component["tiers"]:
        high = None if tier["up_to"] is None else Decimal(tier["up_to"]) * (scale if scale is not None else 1)
        out.append((low, high, Decimal(tier["rate"])))
        low = high if high is not None else low
    return out


def walk(tiers: list[tuple[Decimal, Decimal | None, Decimal]], start: Decimal, basis: Decimal) -> list[dict[str, Any]]:
    """Slices of (start, start + basis] per band, each at its band's rate."""
    end, slices = start + basis, []
    for low, high, rate in tiers:
        lo, hi = max(low, start), end if high is None else min(high, end)
        if hi > lo:
            slices.append(
                {"band": {"above": low, "up_to": high}, "slice": hi - lo, "rate": rate, "amount": (hi - lo) * rate}
            )
    return slices


def rate_at(tiers: list[tuple[Decimal, Decimal | None, Decimal]], total: Decimal) -> tuple[Decimal, dict[str, Any]]:
    """The rate of the band a total reaches (a total on a boundary stays in the lower band)."""
    for low, high, rate in tiers:
        if high is None or total <= high:
            return rate, {"above": low, "up_to": high}
    low, high, rate = tiers[-1]
    return rate, {"above": low, "up_to": high}


def span_of(period: Period, measure: str) -> Period:
    """The span a cumulative basis runs over: the month, its quarter or its year."""
    if measure == "quarter_to_date":
        return period.enclosing()[0]
    if measure == "year_to_date":
        return period.enclosing()[1]
    return period


def months_of(span: Period) -> list[Period]:
    out, cursor = [], Period.month_of(span.start)
    while cursor.start <= span.end:
        out.append(cursor)
        cursor = Period.month_of(cursor.end + timedelta(days=1))
    return out


SPANS = {"month": "period", "quarter": "quarter_to_date", "year": "year_to_date"}


def _booked(win: Win, share: Decimal) -> tuple[Decimal, Decimal]:
    """Revenue and margin credited on booking for a split share."""
    return win.amount * share, win.margin * share


def _collected(win: Win, ratio: Decimal, share: Decimal) -> tuple[Decimal, Decimal]:
    """Revenue and margin credited on a payment that collects `ratio` of the deal."""
    return win.amount * share * ratio, win.margin * share * ratio


# -- the calculation -------------------------------------------------------------------------------
@dataclass(slots=True)
class _Item:
    rep_id: str
    deal_id: str
    day: date
    basis: Decimal
    share: Decimal
    plan_id: str
    version: dict[str, Any]
    component: dict[str, Any]
    sources: list[Source]
    note: str
    fx: dict[str, Any] | None = None


class Calculator:
    """Statements for months, memoised: clawbacks look up the lines that first paid the money."""

    def __init__(self, inputs: Inputs) -> None:
        self.inputs = inputs
        self._earned: dict[str, dict[str, list[Line]]] = {}
        self._items_memo: dict[str, list[_Item]] = {}
        self._credited_memo: dict[str, dict[tuple[str, str], Decimal]] = {}
        self._override_memo: dict[str, list[Line]] = {}
        self._overrides_by_deal: dict[str, dict[str | None, list[Line]]] = {}
        self._managers_memo: dict[date, dict[str, set[str]]] = {}
        self.notes: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)

    def lines(self, period: Period, *, settle: bool) -> dict[str, list[Line]]:
        """Every rep's computed lines for the month: earned, clawback and override; with `settle`
        (at close) also the rank and team-target bonuses."""
        result = defaultdict(list)
        for rep, lines in self._earned_lines(period).items():
            result[rep].extend(lines)
        extra = self._clawbacks(period) + self._override_lines(period) + self._target_bonuses(period)
        extra += self._assessment_bonuses(period)
        for line in extra + (self._bonuses(period) if settle else []):
            result[line.rep_id].append(line)
        return result

    def release(self, done: Period) -> None:
        """Forget what no month after `done` can ask for, when months are computed in order on one
        calculator (a rebuild): a later month looks back only at the lines its clawbacks reverse,
        those of deals refunded or cancelled after `done` (with a retroactive tier's whole month
        where it restated them), and at the items of its quarter or year so far."""
        reversed_later = {m.deal_id for m in self.inputs.movements if m.kind != "payment" and m.day > done.end}
        for label, per_rep in self._earned.items():
            if label > done.label:
                continue
            kept: dict[str, list[Line]] = {}
            for rep_id, lines in per_rep.items():
                needed = [line for line in lines if line.deal_id in reversed_later]
                if needed:  # a restated month is read whole (`_paid_on`)
                    kept[rep_id] = lines if any(line.kind == "adjustment" for line in lines) else needed
            self._earned[label] = kept
        for label in [label for label in self._override_memo if label <= done.label]:
            self._overrides_of_deals(Period.parse(label))  # what a clawback looks them up in
            del self._override_memo[label]
        for by_deal in (by_deal for label, by_deal in self._overrides_by_deal.items() if label <= done.label):
            for deal_id in [deal_id for deal_id in by_deal if deal_id not in reversed_later]:
                del by_deal[deal_id]
        year = Period.month_of(done.end + timedelta(days=1)).label[:4]
        for label in [label for label in self._items_memo if label[:4] < year]:
            del self._items_memo[label]

    # -- currencies ------------------------------------------------------------------------------
    def _fx(self, code: str, into: str, day: date) -> tuple[Decimal, dict[str, Any] | None] | None:
        """The factor turning amounts in `code` into `into` on `day` (through the base currency's
        rates, 6 places each), with what explains it; None when a rate is missing."""
        if code == into:
            return Decimal(1), None
        source, target = self.inputs.rate(code, day), self.inputs.rate(into, day)
        if source is None or target is None:
            return None
        factor = source.rate / target.rate
        used = [r.explain() for r in (source, target) if r.position]  # the base's rate is 1, set by no event
        return factor, {"from": code, "into": into, "on": day.isoformat(), "factor": factor, "rates": used}

    def _unconverted(self, period: Period, rep_id: str, win: Win, into: str, day: date, amount: Decimal) -> None:
        """No rate converts the deal's currency on the day: nothing is paid on it yet, and the
        statement says so (`unconverted`) until a rate is entered."""
        self.notes[(period.label, rep_id)].append(
            {
                "kind": "unconverted",
                "deal_id": win.deal_id,
                "currency": win.currency,
                "into": into,
                "amount": amount,
                "day": day.isoformat(),
                "note": f"no exchange rate {win.currency} on {day.isoformat()}: this deal pays nothing until one is "
                "entered (POST /fx-rates)",
                "source": win.source.as_dict(),
            }
        )

    def _in_base(self, amount: Decimal, code: str, day: date) -> Decimal:
        """An amount in base currency for comparing reps and reading targets (0 without a rate)."""
        if code == base_currency():
            return amount
        found = self.inputs.rate(code, day)
        return amount * found.rate if found is not None else ZERO

    # -- earned ----------------------------------------------------------------------------------
    def _items(self, period: Period) -> list[_Item]:
        if period.label not in self._items_memo:
            self._items_memo[period.label] = self._month_items(period)
        return self._items_memo[period.label]

    def _month_items(self, period: Period) -> list[_Item]:
        items = []
        for win in self.inputs.wins.values():
            if win.signed_on in period:
                items += self._credit(
                    period,
                    win,
                    win.signed_on,
                    "booking",
                    partial(_booked, win),
                    [win.source],
                )
        for move in self.inputs.movements:
            paid_on = self.inputs.wins.get(move.deal_id)
            if move.kind == "payment" and paid_on and move.day in period and paid_on.amount > 0:
                ratio = move.amount / paid_on.amount
                items += self._credit(
                    period,
                    paid_on,
                    move.day,
                    "collection",
                    partial(_collected, paid_on, ratio),
                    [paid_on.source, move.source],
                )
        return sorted(items, key=lambda i: (i.day, i.sources[-1].position, i.rep_id, i.component["name"]))

    def _credit(
        self,
        period: Period,
        win: Win,
        day: date,
        payable_on: str,
        basis_of: Callable[[Decimal], tuple[Decimal, Decimal]],
        sources: list[Source],
    ) -> list[_Item]:
        items = []
        credits = [(rep, share, "split") for rep, share in win.splits]
        credits += [(party, share, "overlay") for party, share in win.overlays]
        for rep_id, share, credit in credits:
            found = self.inputs.plan_for(rep_id, day)
            if found is None:
                continue
            plan_id, version = found
            revenue, margin = basis_of(share)
            fx = self._fx(win.currency, version["currency"], day)
            if fx is None:
                self._unconverted(period, rep_id, win, version["currency"], day, revenue)
                continue
            revenue, margin = revenue * fx[0], margin * fx[0]
            for component in version["components"]:
                if (
                    component["type"] == "tiered_rate"
                    and component["payable_on"] == payable_on
                    and component.get("credit", "split") == credit
                ):
                    basis = revenue if component["basis"] == "revenue" else margin
                    items.append(
                        _Item(
                            rep_id,
                            win.deal_id,
                            day,
                            basis,
                            share,
                            plan_id,
                            version,
                            component,
                            sources,
                            payable_on,
                            fx[1],
                        )
                    )
        return items

    def _earned_lines(self, period: Period) -> dict[str, list[Line]]:
        if period.label in self._earned:
            return self._earned[period.label]
        per_rep: dict[str, list[Line]] = defaultdict(list)
        groups: dict[tuple[str, str], list[_Item]] = defaultdict(list)
        for item in self._items(period):
            groups[(item.rep_id, item.component["name"])].append(item)
        for (rep_id, name), items in groups.items():
            per_rep[rep_id].extend(self._tier_lines(period, rep_id, name, items))
        self._earned[period.label] = per_rep
        return per_rep

    def _before_in_span(self, period: Period, rep_id: str, name: str, span: Period) -> Decimal:
        """The rep's basis for the component in the span's months before this one."""
        total = ZERO
        for earlier in months_of(span):
            if earlier >= period:
                break
            total += sum(
                (i.basis for i in self._items(earlier) if i.rep_id == rep_id and i.component["name"] == name), ZERO
            )
        return total

    def _tier_lines(self, period: Period, rep_id: str, name: str, items: list[_Item]) -> list[Line]:
        lines: list[Line] = []
        first = items[0].component
        span = span_of(period, first.get("measure", "period"))
        start = self._before_in_span(period, rep_id, name, span) if span != period else ZERO
        relief = self.inputs.relief(rep_id, span, "revenue") if first["thresholds"] == "attainment" else ZERO
        accumulated, paid = start, ZERO
        target = self.inputs.target(f"rep:{rep_id}", span)
        for n, item in enumerate(items):
            c = item.component
            scale = target if c["thresholds"] == "attainment" else None
            explain = {
                "plan_id": item.plan_id,
                "plan_version": item.version["version"],
                "component": c,
                "basis": item.basis,
                "split_share": item.share,
                "payable_on": item.note,
                "accumulated_before": accumulated,
                "accumulated_after": accumulated + item.basis,
                "clawback_days": item.version["clawback_days"],
                "target": {"scope": f"rep:{rep_id}", "metric": "revenue", "period": span.label, "value": target}
                if c["thresholds"] == "attainment"
                else None,
                "sources": [s.as_dict() for s in item.sources],
            }
            if item.fx:
                explain["fx"] = item.fx
            if span != period:
                explain["span"] = {"period": span.label, "accumulated_in_earlier_months": start}
            if relief:
                explain["relief"] = {"period": span.label, "amount": relief, "note": "counts toward the bands only"}
            key = f"earned|{name}|{item.deal_id}|{item.note}|{item.sources[-1].position}"
            if c["thresholds"] == "attainment" and target is None:
                explain["note"] = f"no revenue target for {period.label}: this component pays nothing"
                raw, walked = ZERO, []
            elif c["tier_mode"] == "per_transaction":
                walked = walk(bands(c, scale), ZERO, item.basis)
                raw = sum((s["amount"] for s in walked), ZERO)
            elif c["tier_mode"] == "marginal":
                walked = walk(bands(c, scale), accumulated + relief, item.basis)
                raw = sum((s["amount"] for s in walked), ZERO)
            elif c["tier_mode"] == "deal_rate":  # this deal wholly at the rate its cumulative basis reaches
                rate, band = rate_at(bands(c, scale), accumulated + relief + item.basis)
                walked = [{"band": band, "slice": item.basis, "rate": rate, "amount": item.basis * rate}]
                raw = item.basis * rate
            else:  # retroactive: this deal at the rate the period total reaches
                rate, band = rate_at(bands(c, scale), accumulated + relief + item.basis)
                walked = [{"band": band, "slice": item.basis, "rate": rate, "amount": item.basis * rate}]
                raw = item.basis * rate
            amount = self._capped(c, paid, round_money(raw), explain)
            explain["tier_walk"] = walked
            explain["amount_before_rounding"] = raw
            lines.append(
                Line(
                    rep_id,
                    period.label,
                    "earned",
                    name,
                    item.deal_id,
                    round_money(item.basis),
                    amount,
                    item.plan_id,
                    item.version["version"],
                    key,
                    explain,
                )
            )
            paid += amount
            accumulated += item.basis
            if c["tier_mode"] == "retroactive" and not (c["thresholds"] == "attainment" and target is None):
                restated = self._capped(c, paid, round_money((accumulated - start) * rate) - paid, {})
                if restated != 0:
                    lines.append(
                        Line(
                            rep_id,
                            period.label,
                            "adjustment",
                            name,
                            None,
                            round_money(accumulated - start),
                            restated,
                            item.plan_id,
                            item.version["version"],
                            f"retro|{name}|{item.sources[-1].position}|{n}",
                            {
                                **explain,
                                "note": f"retroactive restatement: the period total "
                                f"{accumulated} now pays {rate} on everything",
                                "restates": [x.id for x in lines if x.kind == "earned"],
                                "amount_before_rounding": (accumulated - start) * rate - paid,
                            },
                        )
                    )
                    paid += restated
        return lines

    @staticmethod
    def _capped(component: dict[str, Any], paid: Decimal, amount: Decimal, explain: dict[str, Any]) -> Decimal:
        cap = component.get("cap")
        if cap is None or amount <= 0 or paid + amount <= Decimal(cap):
            return amount
        allowed = max(Decimal(cap) - paid, ZERO)
        explain["cap"] = {"cap": Decimal(cap), "paid_before": paid, "uncapped": amount, "paid": allowed}
        return allowed

    # -- clawbacks -------------------------------------------------------------------------------
    def _clawbacks(self, period: Period) -> list[Line]:
        """A refund or cancellation reverses, at the rates originally paid and in proportion to
        the amount refunded, every line the deal produced: its earned lines (with a retroactive
        tier's top-ups) and its managers' overrides. Beyond the plan's clawback_days nothing is
        clawed back and `notes` say why (shown on the statement as `clawback_notes`)."""
        lines = []
        payments: dict[str, list[Money]] = defaultdict(list)
        for m in self.inputs.movements:
            if m.kind == "payment":
                payments[m.deal_id].append(m)
        for move in self.inputs.movements:
            win = self.inputs.wins.get(move.deal_id)
            if move.kind == "payment" or move.day not in period or win is None or win.amount <= 0:
                continue
            origins = [
                Period.month_of(win.signed_on),
                *sorted({Period.month_of(m.day) for m in payments[win.deal_id] if m.day <= move.day}),
            ]
            credits = [(rep, share, "split") for rep, share in win.splits]
            credits += [(party, share, "overlay") for party, share in win.overlays]
            for rep_id, share, credit in credits:
                originals = [
                    (p, line)
                    for p in dict.fromkeys(origins)
                    for line in self._earned_lines(p).get(rep_id, [])
                    if line.deal_id == win.deal_id
                    and line.kind == "earned"
                    and line.explain["component"].get("credit", "split") == credit
                ]
                by_component: dict[str | None, list[tuple[Period, Line]]] = defaultdict(list)
                for origin, line in originals:
                    payable_on = line.explain["payable_on"]
                    if move.kind == "cancellation" and payable_on == "collection":
                        continue  # nothing was paid on money never collected
                    by_component[line.component].append((origin, line))
                for name, paid in by_component.items():
                    paid_lines = [line for _, line in paid]
                    first = paid_lines[0]
                    days = first.explain["clawback_days"]
                    key = f"clawback|{name}|{win.deal_id}|{move.source.position}"
                    component = first.explain["component"]
                    if (move.day - win.signed_on).days > days:
                        self._beyond_window(period, rep_id, name, win, move, days)
                        continue
                    basis_total = sum((x.explain["basis"] for x in paid_lines), ZERO)
                    top_ups = [top_up for origin, line in paid for top_up in self._top_ups(origin, rep_id, name, line)]
                    paid_total = sum((self._paid_on(origin, rep_id, name, line) for origin, line in paid), ZERO)
                    if basis_total == 0 or paid_total == 0:
                        continue
                    rate = paid_total / basis_total
                    factor = Decimal(1) if component["basis"] == "revenue" else win.margin / win.amount
                    fx = first.explain.get("fx")  # reversed at the exchange rate originally used, too
                    basis = move.amount * share * factor * (Decimal(str(fx["factor"])) if fx else 1)
                    amount = -round_money(basis * rate)
                    explain = {
                        "plan_id": first.plan_id,
                        "plan_version": first.plan_version,
                        "component": component,
                        "basis": basis,
                        "split_share": share,
                        "rate_originally_paid": rate,
                        "reverses": [x.id for x in paid_lines],
                        "days_after_signing": (move.day - win.signed_on).days,
                        "clawback_days": days,
                        "refund_kind": move.kind,
                        "sources": [win.source.as_dict(), move.source.as_dict()],
                        "amount_before_rounding": -(basis * rate),
                    }
                    if top_ups:
                        explain["reverses_top_ups"] = sorted({x.id for x in top_ups})
                        explain["note"] = (
                            "the retroactive tier's top-ups raised the rate paid on this deal: "
                            "they are reversed with it"
                        )
                    lines.append(
                        Line(
                            rep_id,
                            period.label,
                            "clawback",
                            name,
                            win.deal_id,
                            round_money(basis),
                            amount,
                            first.plan_id,
                            first.plan_version,
                            key,
                            explain,
                        )
                    )
            lines += self._override_clawbacks(period, win, move)
        return lines

    def _top_ups(self, origin: Period, rep_id: str, name: str | None, line: Line) -> list[Line]:
        """The retroactive restatements of the month that restated this earned line."""
        return [
            x
            for x in self._earned_lines(origin).get(rep_id, [])
            if x.kind == "adjustment" and x.component == name and line.id in x.explain.get("restates", [])
        ]

    def _paid_on(self, origin: Period, rep_id: str, name: str | None, line: Line) -> Decimal:
        """What was paid on an earned line in the end: its amount, or under a retroactive tier
        (restated by later top-ups) its basis at the rate the month's total paid."""
        if not self._top_ups(origin, rep_id, name, line):
            return line.amount
        month = [x for x in self._earned_lines(origin).get(rep_id, []) if x.component == name]
        basis = sum((x.explain["basis"] for x in month if x.kind == "earned"), ZERO)
        paid = sum((x.amount for x in month), ZERO)
        return line.explain["basis"] * paid / basis if basis else line.amount

    def _beyond_window(self, period: Period, rep_id: str, name: str | None, win: Win, move: Money, days: int) -> None:
        """Nothing is clawed back; the statement says why (`clawback_notes`)."""
        after = (move.day - win.signed_on).days
        self.notes[(period.label, rep_id)].append(
            {
                "deal_id": win.deal_id,
                "component": name,
                "refund_kind": move.kind,
                "amount": move.amount,
                "day": move.day.isoformat(),
                "days_after_signing": after,
                "clawback_days": days,
                "note": f"{move.kind} {after} days after signing, beyond the plan's clawback_days ({days}): "
                "nothing is clawed back",
                "source": move.source.as_dict(),
            }
        )

    def _overrides_of_deals(self, origin: Period) -> dict[str | None, list[Line]]:
        """The month's override lines by deal."""
        if origin.label not in self._overrides_by_deal:
            by_deal: dict[str | None, list[Line]] = defaultdict(list)
            for line in self._override_lines(origin):
                by_deal[line.deal_id].append(line)
            self._overrides_by_deal[origin.label] = by_deal
        return self._overrides_by_deal[origin.label]

    def _override_clawbacks(self, period: Period, win: Win, move: Money) -> list[Line]:
        """Managers' overrides on the deal, reversed at the rate they paid, in proportion to the
        amount refunded (overrides are paid on booking, so a cancellation reverses them too)."""
        lines = []
        for override in self._overrides_of_deals(Period.month_of(win.signed_on)).get(win.deal_id, []):
            if override.amount == 0:
                continue
            found = self.inputs.plan_for(override.rep_id, win.signed_on)
            days = found[1]["clawback_days"] if found else 0
            after = (move.day - win.signed_on).days
            key = f"clawback|{override.key}|{move.source.position}"
            if after > days:
                self._beyond_window(period, override.rep_id, override.component, win, move, days)
                continue
            share = Decimal(str(override.explain["split_share"]))
            fx = override.explain.get("fx")
            basis = move.amount * share * (Decimal(str(fx["factor"])) if fx else 1)
            rate = override.amount / override.explain["basis"]
            lines.append(
                Line(
                    override.rep_id,
                    period.label,
                    "clawback",
                    override.component,
                    win.deal_id,
                    round_money(basis),
                    -round_money(basis * rate),
                    override.plan_id,
                    override.plan_version,
                    key,
                    {
                        "plan_id": override.plan_id,
                        "plan_version": override.plan_version,
                        "component": override.explain["component"],
                        "basis": basis,
                        "credited_rep": override.explain["credited_rep"],
                        "split_share": share,
                        "rate_originally_paid": rate,
                        "reverses": [override.id],
                        "days_after_signing": after,
                        "clawback_days": days,
                        "refund_kind": move.kind,
                        "sources": [win.source.as_dict(), move.source.as_dict()],
                        "amount_before_rounding": -(basis * rate),
                    },
                )
            )
        return lines

    # -- overrides -------------------------------------------------------------------------------
    def _override_lines(self, period: Period) -> list[Line]:
        if period.label not in self._override_memo:
            self._override_memo[period.label] = self._overrides(period)
        return self._override_memo[period.label]

    def _overrides(self, period: Period) -> list[Line]:
        credits = sorted(
            (
                (win.signed_on, win.source.position, rep_id, share, win)
                for win in self.inputs.wins.values()
                if win.signed_on in period
                for rep_id, share in win.splits
            ),
            key=lambda c: (c[0], c[1], c[2]),
        )
        accumulated: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        lines = []
        for day, position, rep_id, share, win in credits:
            for manager in self.inputs.ancestors(rep_id, day):
                found = self.inputs.plan_for(manager, day)
                if found is None:
                    continue
                plan_id, version = found
                fx = self._fx(win.currency, version["currency"], day)
                if fx is None:
                    self._unconverted(period, manager, win, version["currency"], day, win.amount * share)
                    continue
                credit = win.amount * share * fx[0]
                for c in version["components"]:
                    if c["type"] != "override":
                        continue
                    before = accumulated[(manager, c["name"])]
                    threshold = Decimal(c["threshold"])
                    above = max(before + credit, threshold) - max(before, threshold)
                    accumulated[(manager, c["name"])] = before + credit
                    raw = above * Decimal(c["rate"])
                    lines.append(
                        Line(
                            manager,
                            period.label,
                            "override",
                            c["name"],
                            win.deal_id,
                            round_money(credit),
                            round_money(raw),
                            plan_id,
                            version["version"],
                            f"override|{c['name']}|{win.deal_id}|{rep_id}|{position}",
                            {
                                "plan_id": plan_id,
                                "plan_version": version["version"],
                                "component": c,
                                "basis": credit,
                                "credited_rep": rep_id,
                                "split_share": share,
                                **({"fx": fx[1]} if fx[1] else {}),
                                "accumulated_before": before,
                                "accumulated_after": before + credit,
                                "tier_walk": [
                                    {
                                        "band": {"above": threshold, "up_to": None},
                                        "slice": above,
                                        "rate": Decimal(c["rate"]),
                                        "amount": raw,
                                    }
                                ],
                                "sources": [win.source.as_dict()],
                                "amount_before_rounding": raw,
                            },
                        )
                    )
        return [line for line in lines if line.amount != 0 or line.basis_amount != 0]

    def _components(self, period: Period, kind: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        """(rep, plan id, version, component) for every component of `kind` in the plan version
        each rep is on at the month's end."""
        out = []
        for rep in self.inputs.reps():
            found = self.inputs.plan_for(rep, period.end)
            if found is not None:
                out += [(rep, found[0], found[1], c) for c in found[1]["components"] if c["type"] == kind]
        return out

    # -- target bonuses (on the last month of their span) ------------------------------------------
    def _credited(self, span: Period) -> dict[tuple[str, str], Decimal]:
        """(rep, metric) -> revenue and gross margin credited by the splits of wins signed in the span,
        less what refunds and cancellations in the span took back."""
        if span.label not in self._credited_memo:
            credited: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
            for win in self.inputs.wins.values():
                if win.signed_on in span:
                    for rep_id, share in win.splits:
                        credited[(rep_id, "revenue")] += self._in_base(win.amount * share, win.currency, win.signed_on)
                        credited[(rep_id, "gross_margin")] += self._in_base(
                            win.margin * share, win.currency, win.signed_on
                        )
            for move in self.inputs.movements:  # refunds and cancellations in the span take credit back
                refunded = self.inputs.wins.get(move.deal_id)
                if move.kind == "payment" or move.day not in span or refunded is None or not refunded.amount:
                    continue
                for rep_id, share in refunded.splits:
                    taken = self._in_base(move.amount * share, refunded.currency, move.day)
                    credited[(rep_id, "revenue")] -= taken
                    credited[(rep_id, "gross_margin")] -= taken * refunded.margin / refunded.amount
            self._credited_memo[span.label] = credited
        return self._credited_memo[span.label]

    def _target_bonuses(self, period: Period) -> list[Line]:
        """`target_bonus` components: paid on the last month of their month, quarter or year when
        the rep's attainment over it ((credited + quota relief) / target) reaches the threshold."""
        lines = []
        for rep, plan_id, version, c in self._components(period, "target_bonus"):
            span = span_of(period, SPANS[c["over"]])
            if span.end != period.end:
                continue
            actual = self._credited(span).get((rep, c["metric"]), ZERO)
            relief = self.inputs.relief(rep, span, c["metric"])
            target = self.inputs.target(f"rep:{rep}", span, c["metric"])
            if not target:
                continue
            attainment = (actual + relief) / target
            if attainment < Decimal(c["attainment_at_least"]):
                continue
            lines.append(
                Line(
                    rep,
                    period.label,
                    "bonus",
                    c["name"],
                    None,
                    round_money(actual),
                    Decimal(c["amount"]),
                    plan_id,
                    version["version"],
                    f"target|{c['name']}|{span.label}",
                    {
                        "plan_id": plan_id,
                        "plan_version": version["version"],
                        "component": c,
                        "span": {"period": span.label, "accumulated": actual},
                        "relief": relief,
                        "target": {
                            "scope": f"rep:{rep}",
                            "metric": c["metric"],
                            "period": span.label,
                            "value": target,
                        },
                        "attainment": attainment.quantize(Decimal("0.0001")),
                        "note": f"attainment over {span.label} reaches {c['attainment_at_least']}",
                    },
                )
            )
        return lines

    # -- assessment bonuses (by a finalized grade) ---------------------------------------------------
    def _assessment_bonuses(self, period: Period) -> list[Line]:
        """`assessment_bonus` components: on the last month of an assessment period (the month, its
        quarter or its year), the amount for the grade of the rep's finalized scorecard."""
        spans = [p for p in (period, *period.enclosing()) if p.end == period.end]
        lines = []
        for rep, plan_id, version, c in self._components(period, "assessment_bonus"):
            for span in spans:
                graded = self.inputs.grade(c["scheme_id"], span.label, rep)
                if graded is None or graded["grade"] not in c["amounts"]:
                    continue
                lines.append(
                    Line(
                        rep,
                        period.label,
                        "bonus",
                        c["name"],
                        None,
                        ZERO,
                        Decimal(c["amounts"][graded["grade"]]),
                        plan_id,
                        version["version"],
                        f"assessment|{c['name']}|{span.label}",
                        {
                            "plan_id": plan_id,
                            "plan_version": version["version"],
                            "component": c,
                            "assessment": {"scheme_id": c["scheme_id"], "period": span.label, **graded},
                            "note": f"the finalized {span.label} scorecard grades {graded['grade']}",
                        },
                    )
                )
        return lines

    # -- bonuses (settled at close) --------------------------------------------------------------
    def _bonuses(self, period: Period) -> list[Line]:
        credited: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"revenue": ZERO, "gross_margin": ZERO})
        teams: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for win in self.inputs.wins.values():
            if win.signed_on not in period:
                continue
            for rep_id, share in win.splits:
                revenue = self._in_base(win.amount * share, win.currency, win.signed_on)
                credited[rep_id]["revenue"] += revenue
                credited[rep_id]["gross_margin"] += self._in_base(win.margin * share, win.currency, win.signed_on)
                team = self.inputs.team_of(rep_id, win.signed_on)
                if team:
                    teams[team] += revenue
        lines = []
        plans = {rep: self.inputs.plan_for(rep, period.end) for rep in self.inputs.reps()}
        rank_components = {
            (c["name"], c["metric"], c["top"], c["amount"], plan_id, v["version"])
            for rep, found in plans.items()
            if found
            for plan_id, v in [found]
            for c in v["components"]
            if c["type"] == "rank_bonus"
        }
        for name, metric, top, amount, plan_id, version in sorted(rank_components):
            eligible = [
                rep
                for rep, found in plans.items()
                if found and found[0] == plan_id and found[1]["version"] == version and credited[rep][metric] > 0
            ]
            ordered = sorted(eligible, key=lambda r: (-credited[r][metric], self.inputs.name(r), r))
            if not ordered:
                continue
            cut = credited[ordered[min(top, len(ordered)) - 1]][metric]
            values = sorted({credited[r][metric] for r in ordered}, reverse=True)
            for rep in ordered:
                if credited[rep][metric] >= cut:
                    rank = values.index(credited[rep][metric]) + 1
                    lines.append(
                        Line(
                            rep,
                            period.label,
                            "bonus",
                            name,
                            None,
                            round_money(credited[rep][metric]),
                            Decimal(amount),
                            plan_id,
                            version,
                            f"rank|{name}|{period.label}",
                            {
                                "plan_id": plan_id,
                                "plan_version": version,
                                "component": {
                                    "name": name,
                                    "type": "rank_bonus",
                                    "metric": metric,
                                    "top": top,
                                    "amount": amount,
                                },
                                "metric_value": credited[rep][metric],
                                "rank": rank,
                                "cut_value": cut,
                                "note": "dense rank; everyone tied at the cut included",
                            },
                        )
                    )
        for rep, found in sorted(plans.items()):
            if not found:
                continue
            plan_id, version = found
            for c in version["components"]:
                if c["type"] != "team_target_bonus":
                    continue
                team = self.inputs.team_of(rep, period.end)
                led = [t for t in teams if any(m == rep for m in self._team_managers(t, period.end))]
                for t in dict.fromkeys(([team] if team else []) + led):
                    target = self.inputs.target(f"team:{t}", period)
                    if target is None or teams[t] < target:
                        continue
                    lines.append(
                        Line(
                            rep,
                            period.label,
                            "bonus",
                            c["name"],
                            None,
                            round_money(teams[t]),
                            Decimal(c["amount"]),
                            plan_id,
                            version["version"],
                            f"team|{c['name']}|{t}",
                            {
                                "plan_id": plan_id,
                                "plan_version": version["version"],
                                "component": c,
                                "team": t,
                                "team_revenue": teams[t],
                                "target": {"scope": f"team:{t}", "metric": "revenue", "value": target},
                            },
                        )
                    )
        return lines

    def _team_managers(self, team: str, day: date) -> set[str]:
        """The direct managers of the team's members on `day` (the whole org read once per day)."""
        if day not in self._managers_memo:
            by_team: dict[str, set[str]] = defaultdict(set)
            for rep in self.inputs.reps():
                found = self.inputs.team_of(rep, day)
                if found:
                    by_team[found].update(self.inputs.ancestors(rep, day)[:1])
            self._managers_memo[day] = by_team
        return self._managers_memo[day].get(team, set())
