"""Statements from lines: manual adjustments, corrections of closed months, totals and digests.

A closed month is never edited. Whatever later history changes about it (a late or back-dated
deal, a corrected amount, a refund, a changed rank) becomes an adjustment line in the first
open month after it, pointing to the closed line or event it corrects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from domain.commission.calc import ZERO, Calculator, Inputs, Line, digest
from domain.values import Period, round_money


class Book(Protocol):
    """A month as statements read it: its manual adjustments and, once closed, its frozen
    statements (a CommissionPeriod, or the ledger read model's copy)."""

    @property
    def period(self) -> str: ...
    @property
    def adjustments(self) -> list[dict[str, Any]]: ...
    @property
    def statements(self) -> dict[str, dict[str, Any]]: ...


LedgerOf = Callable[[str], Book]


def manual_lines(ledger: Book) -> list[Line]:
    return [
        Line(
            a["rep_id"],
            ledger.period,
            a["kind"],
            None,
            None,
            ZERO,
            a["amount"],
            None,
            None,
            f"manual|{a['adjustment_id']}",
            {
                "reason": a["reason"],
                "approver_id": a["approver_id"],
                "dispute_id": a["dispute_id"],
                "corrects_line": a["corrects_line"],
            },
        )
        for a in ledger.adjustments
    ]


def _next(period: Period) -> Period:
    return Period.month_of(period.end + timedelta(days=1))


def base_lines(
    inputs: Inputs, ledger_of: LedgerOf, period: Period, *, settle: bool, calculator: Calculator | None = None
) -> dict[str, list[Line]]:
    """Computed and manual lines of a month, before corrections of earlier closed months."""
    lines = (calculator or Calculator(inputs)).lines(period, settle=settle)
    for line in manual_lines(ledger_of(period.label)):
        lines[line.rep_id].append(line)
    return lines


def corrections(
    inputs: Inputs,
    ledger_of: LedgerOf,
    period: Period,
    closed: dict[str, Any],
    calculator: Calculator,
    only: set[str] | None = None,
) -> dict[str, list[Line]]:
    """Adjustment lines in `period` for every closed month (or `only` those) whose first open
    successor it is."""
    out: dict[str, list[Line]] = defaultdict(list)
    for label in sorted(closed):
        if only is not None and label not in only:
            continue
        earlier = Period.parse(label)
        if earlier >= period:
            continue
        successor = _next(earlier)
        while successor < period and successor.label in closed:
            successor = _next(successor)
        if successor != period:
            continue
        frozen = ledger_of(label).statements
        now = base_lines(inputs, ledger_of, earlier, settle=True, calculator=calculator)
        carried = {
            rep: sum((Decimal(str(x["amount"])) for x in s["lines"] if (x.get("explain") or {}).get("corrects")), ZERO)
            for rep, s in frozen.items()
        }
        draw_lines(inputs, earlier, now, carried)
        already: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        for later in closed:
            if label < later < period.label:
                for rep, statement in ledger_of(later).statements.items():
                    for line in statement["lines"]:
                        corrects = (line.get("explain") or {}).get("corrects") or {}
                        if corrects.get("period") == label:
                            already[(rep, corrects["key"])] += Decimal(str(line["amount"]))
        for rep in sorted(set(frozen) | set(now)):
            was = {
                line["key"]: line
                for line in frozen.get(rep, {}).get("lines", [])
                if not (line.get("explain") or {}).get("corrects")
            }
            should = {line.key: line for line in now.get(rep, [])}
            for key in sorted(set(was) | set(should)):
                before = Decimal(str(was[key]["amount"])) if key in was else ZERO
                after = should[key].amount if key in should else ZERO
                delta = after - before - already[(rep, key)]
                if delta == 0:
                    continue
                model = should.get(key)
                out[rep].append(
                    Line(
                        rep,
                        period.label,
                        "adjustment",
                        model.component if model else was[key]["component"],
                        model.deal_id if model else was[key]["deal_id"],
                        ZERO,
                        delta,
                        model.plan_id if model else was[key]["plan_id"],
                        model.plan_version if model else was[key]["plan_version"],
                        f"correct|{label}|{key}",
                        {
                            "corrects": {
                                "period": label,
                                "key": key,
                                "line_id": was[key]["id"] if key in was else None,
                            },
                            "closed_amount": before,
                            "recomputed_amount": after,
                            "already_corrected": already[(rep, key)],
                            "note": f"{label} is closed: the difference is paid in {period.label}",
                            "sources": (model.explain.get("sources") if model else None) or [],
                        },
                    )
                )
    return out


def draw_lines(
    inputs: Inputs, period: Period, lines: dict[str, list[Line]], carried: dict[str, Decimal] | None = None
) -> dict[str, Decimal]:
    """Draws, once every other line of the month is known: a rep on a plan with a draw whose other
    lines total less than its amount gets a `draw` line making up the difference; under a
    recoverable draw that advance is a balance which `draw_recovery` lines take back from later
    months above the amount (never below it). `carried`: lines of the month not in `lines` (a closed
    month's corrections of earlier months, recomputing it). Adds the lines; answers each such rep's
    balance after."""
    balances = {}
    for rep in inputs.reps():
        found = inputs.plan_for(rep, period.end)
        if found is None or not found[1].get("draw"):
            continue
        plan_id, version = found
        draw = version["draw"]
        amount, recoverable = Decimal(draw["amount"]), bool(draw["recoverable"])
        others = sum((line.amount for line in lines.get(rep, [])), (carried or {}).get(rep, ZERO))
        before = round_money(inputs.draw_balance(rep, period)) if recoverable else ZERO
        after, line = before, None
        explain = {
            "plan_id": plan_id,
            "plan_version": version["version"],
            "draw": {"amount": amount, "recoverable": recoverable},
            "other_lines_total": others,
            "draw_balance_before": before,
        }
        if others < amount:
            after = round_money(before + amount - others) if recoverable else ZERO
            line = ("draw", amount - others, "the month's other lines are below the draw: made up to it")
        elif recoverable and before > 0 and others > amount:
            taken = round_money(min(before, others - amount))
            after = before - taken
            line = ("draw_recovery", -taken, "recovers the draw advanced in earlier months, down to the draw amount")
        if line is not None:
            kind, value, note = line
            lines[rep].append(
                Line(
                    rep,
                    period.label,
                    kind,
                    None,
                    None,
                    round_money(others),
                    round_money(value),
                    plan_id,
                    version["version"],
                    f"{kind}|{period.label}",
                    {**explain, "draw_balance_after": after, "note": note},
                )
            )
        balances[rep] = after
    return balances


def statement_lines(
    inputs: Inputs,
    ledger_of: LedgerOf,
    period: Period,
    closed: dict[str, Any],
    *,
    settle: bool,
    notes: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, list[Line]]:
    """Every rep's lines for the month; `notes` (if given) receives per rep what the month's
    refunds did not claw back, and why."""
    calculator = Calculator(inputs)
    lines = base_lines(inputs, ledger_of, period, settle=settle, calculator=calculator)
    for rep, extra in corrections(inputs, ledger_of, period, closed, calculator).items():
        lines[rep].extend(extra)
    draw_lines(inputs, period, lines)
    if notes is not None:
        for (label, rep), said in calculator.notes.items():
            if label == period.label:
                notes.setdefault(rep, []).extend(said)
    return lines


def render(rep_id: str, period: str, currency: str, status: str, lines: list[Line]) -> dict[str, Any]:
    public = sorted((line.public() for line in lines), key=lambda x: x["id"])
    return {
        "rep_id": rep_id,
        "period": period,
        "currency": currency,
        "status": status,
        "total": sum((x["amount"] for x in public), ZERO),
        "digest": digest(rep_id, period, currency, public),
        "lines": public,
    }


def frozen(line: Line) -> dict[str, Any]:
    """How a line is kept in the close event: public fields, its key and its explanation."""
    return {**line.public(), "key": line.key, "explain": line.explain}


def frozen_statement(rep_id: str, period: str, currency: str, lines: list[Line]) -> dict[str, Any]:
    statement = render(rep_id, period, currency, "closed", lines)
    statement["lines"] = [frozen(line) for line in sorted(lines, key=lambda x: x.id)]
    return statement


# -- explanations as shown ----------------------------------------------------------------------------
# Money in an explanation; everything else (rates, split shares, counts, ids, text) is shown as is.
MONEY_KEYS = frozenset(
    {
        "basis",
        "basis_amount",
        "amount",
        "accumulated_before",
        "accumulated_after",
        "amount_before_rounding",
        "closed_amount",
        "recomputed_amount",
        "already_corrected",
        "team_revenue",
        "metric_value",
        "cut_value",
        "slice",
        "above",
        "up_to",
        "cap",
        "paid_before",
        "uncapped",
        "paid",
        "threshold",
        "value",
    }
)


def shown_money(value: Any) -> Any:
    """A money value with two decimals (ROUND_HALF_UP); None and non-numbers unchanged."""
    if value is None or isinstance(value, bool):
        return value
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return value
    if not amount.is_finite():
        return value
    return round_money(amount) if amount else ZERO


def _component(component: dict[str, Any]) -> dict[str, Any]:
    """The plan component as applied, its amounts with two decimals; attainment thresholds are fractions."""
    shown = {k: (shown_money(v) if k in ("cap", "amount", "threshold") else v) for k, v in component.items()}
    if isinstance(component.get("tiers"), list) and component.get("thresholds", "amount") == "amount":
        shown["tiers"] = [
            {**tier, "up_to": shown_money(tier.get("up_to"))} if isinstance(tier, dict) else tier
            for tier in component["tiers"]
        ]
    return shown


def _shown(value: Any, key: str | None = None) -> Any:
    if key == "component" and isinstance(value, dict):
        return _component(value)
    if isinstance(value, dict):
        return {k: _shown(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v, key) for v in value]
    if key in MONEY_KEYS and isinstance(value, (Decimal, int, str)) and not isinstance(value, bool):
        return shown_money(value)
    return value


def shown_explanation(explain: dict[str, Any]) -> dict[str, Any]:
    """An explanation (or a line) as answered: every money value with exactly two decimals, rates
    and shares untouched. The stored explanation keeps full precision."""
    shown: dict[str, Any] = _shown(explain)
    return shown


def attach_notes(statement: dict[str, Any], said: list[dict[str, Any]]) -> None:
    """What the calculation noted for a statement: refunds it did not claw back
    (`clawback_notes`) and deals no exchange rate converts yet (`unconverted`)."""
    clawbacks = [note for note in said if note.get("kind") != "unconverted"]
    unconverted = [note for note in said if note.get("kind") == "unconverted"]
    if clawbacks:
        statement["clawback_notes"] = clawbacks
    if unconverted:
        statement["unconverted"] = unconverted
