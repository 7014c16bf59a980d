"""Commissions: plans and plan assignments; statements (live for open months, frozen for closed
ones), their CSV rows, explain, verify and simulate; adjustments, disputes and the period close.

Statements are rows of the commission ledger read model (projections.commissions), kept by the
pure calculator (domain.commission) as events arrive; use cases read them after catching the
ledger up. Verify recomputes from history as it stood at the close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from application import clock
from application.base import UseCases, Written
from application.reads import ReadModels
from domain.base import Meta
from domain.commission.calc import Calculator
from domain.commission.period import CommissionPeriod, month, period_id
from domain.commission.plan import Plan
from domain.commission.statements import (
    attach_notes,
    draw_lines,
    frozen_statement,
    render,
    shown_explanation,
    statement_lines,
)
from domain.errors import Conflict, InvalidInput, NotFound
from domain.rep import Rep
from domain.values import Period, base_currency, money
from infrastructure.store import EventStore, parse_id
from projections.commissions import (
    READ_MODELS,
    HypotheticalPlan,
    Ledger,
    LedgerInputs,
    shown_statement,
    statement_row,
    summary_of,
)

OPEN_NOTE = "open: live figures; rank and team-target bonuses are settled at close"
CSV_COLUMNS = ("id", "kind", "deal_id", "component", "basis_amount", "amount", "plan_id", "plan_version")


# -- queries and commands ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StatementOf:
    """A rep's statement for a month."""

    rep_id: str
    period: str


@dataclass(frozen=True)
class VerifyStatement:
    """Recompute a closed statement and compare it with the frozen one."""

    rep_id: str
    period: str


@dataclass(frozen=True)
class ExplainLine:
    """The provenance of one statement line."""

    line_id: str


@dataclass(frozen=True)
class ClosePeriod:
    """Freeze every statement of a month."""

    period: str


@dataclass(frozen=True)
class PeriodOf:
    """A month's statements: status, totals and digests."""

    period: str


@dataclass(frozen=True)
class ApproveStatement:
    """Approve a closed statement for payment."""

    rep_id: str
    period: str


@dataclass(frozen=True)
class PayStatement:
    """Record the payment of an approved statement."""

    rep_id: str
    period: str
    paid_on: date
    reference: str


@dataclass(frozen=True)
class AcknowledgeStatement:
    """The rep acknowledges their closed statement."""

    rep_id: str
    period: str


@dataclass(frozen=True)
class DisputesOf:
    """Disputes, optionally of one month, one rep and one status."""

    period: str | None = None
    rep_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class SimulatePlan:
    """What-if statements under a plan that does not exist, over real history."""

    plan: dict[str, Any]
    period: str
    rep_ids: tuple[str, ...] | None = None


# -- results ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Statement:
    rep_id: str
    period: str
    currency: str
    status: str
    total: Decimal
    digest: str
    lines: list[dict[str, Any]]
    note: str | None = None  # open statements: live figures
    closed_as_of_position: int | None = None  # closed statements: the store position frozen
    kept: dict[str, Any] = field(default_factory=dict)  # further fields of a frozen statement

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.kept,
            "rep_id": self.rep_id,
            "period": self.period,
            "currency": self.currency,
            "status": self.status,
            "total": self.total,
            "digest": self.digest,
            "lines": self.lines,
        }
        if self.note is not None:
            out["note"] = self.note
        if self.status != "open":
            out["closed_as_of_position"] = self.closed_as_of_position
        return out


@dataclass(frozen=True)
class StatementRows:
    """A statement as spreadsheet rows: a header, one row per line, then the total."""

    filename: str
    header: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Verification:
    rep_id: str
    period: str
    frozen_digest: str
    recomputed_digest: str
    verified: bool
    differences: list[dict[str, Any]]
    changed_since_close: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "period": self.period,
            "frozen_digest": self.frozen_digest,
            "recomputed_digest": self.recomputed_digest,
            "verified": self.verified,
            "differences": self.differences,
            "changed_since_close": self.changed_since_close,
        }


@dataclass(frozen=True)
class Explanation:
    """A line and where its money came from; money values with two decimals."""

    line: dict[str, Any]
    rep_id: str
    period: str
    status: str
    provenance: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "rep_id": self.rep_id,
            "period": self.period,
            "status": self.status,
            **self.provenance,
        }


@dataclass(frozen=True)
class Simulation:
    period: str
    plan: dict[str, Any]
    statements: list[dict[str, Any]]
    total: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "plan": self.plan, "statements": self.statements, "total": self.total}


@dataclass(frozen=True)
class PeriodStatements:
    """A month: open or closed (when), its total and every statement's status, total and digest;
    `teams` and `kinds` (per-kind totals) feed the payroll export."""

    period: str
    status: str
    closed_at: str | None
    total: Decimal
    statements: list[dict[str, Any]]
    teams: dict[str, str | None] = field(default_factory=dict)
    kinds: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    currencies: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "status": self.status,
            "closed_at": self.closed_at,
            "total": self.total,
            "statements": self.statements,
        }


PAYROLL_KINDS = ("earned", "clawback", "override", "bonus", "adjustment", "deduction", "draw")
PAYROLL_COLUMNS = ("rep_id", "name", "team", "currency", *PAYROLL_KINDS, "total", "status", "digest")


@dataclass(frozen=True)
class Payroll:
    """A month's statements for payroll: one row per statement, the contract's columns."""

    filename: str
    header: list[str]
    rows: list[list[Any]]


class _Books:
    """One use case's view of the commission periods: each month's ledger loaded once."""

    def __init__(self, commissions: Commissions) -> None:
        self._commissions = commissions
        self._ledgers: dict[str, CommissionPeriod] = {}

    def ledger(self, label: str) -> CommissionPeriod:
        if label not in self._ledgers:
            self._ledgers[label] = self._commissions.commission_period(label)
        return self._ledgers[label]


def _differences(frozen: list[dict[str, Any]], recomputed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    was = {line["id"]: Decimal(str(line["amount"])) for line in frozen}
    now = {line["id"]: line["amount"] for line in recomputed}
    return [
        {"line_id": i, "frozen": was.get(i), "recomputed": now.get(i)}
        for i in sorted(set(was) | set(now))
        if was.get(i) != now.get(i)
    ]


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _public(line: dict[str, Any]) -> dict[str, Any]:
    """A frozen line without its key and explanation."""
    return {k: v for k, v in line.items() if k not in ("key", "explain")}


class Commissions(UseCases):
    """Commission plans, plan assignments, statements and the commission period."""

    def __init__(self, store: EventStore, reads: ReadModels) -> None:
        super().__init__(store)
        self.reads = reads

    # -- plans -----------------------------------------------------------------------------------
    def create_plan(self, meta: Meta, body: Any, *, id: Any = None) -> Written:
        plan = Plan.create(id or uuid4(), body)
        return self._written(meta, plan, plan_version=1)

    def add_plan_version(self, meta: Meta, plan_id: str, body: Any) -> Written:
        plan = self.load(Plan, plan_id)
        version = plan.add_version(body)
        written = self._written(meta, plan, plan_version=version)
        return type(written)(written.id, version, written.position, {"aggregate_version": written.version})

    def plan(self, plan_id: str) -> dict[str, Any]:
        """A plan with every version."""
        plan = self.load(Plan, plan_id)
        return {"id": str(plan.id), "version": len(plan.versions), "versions": plan.versions}

    def assign_plan(self, meta: Meta, rep_id: str, *, plan_id: str, effective_from: date) -> Written:
        try:
            plan = self.load(Plan, plan_id)
        except NotFound:
            raise NotFound(f"plan_id: no plan with id {plan_id}", field="plan_id") from None
        return self._change(
            meta, Rep, rep_id, None, lambda r: r.assign_plan(plan_id=str(plan.id), effective_from=effective_from)
        )

    def relieve_quota(
        self, meta: Meta, rep_id: str, *, period: str, metric: str, amount: object, reason: str
    ) -> Written:
        """Credit toward attainment of a period, never commission basis."""
        return self._change(
            meta,
            Rep,
            rep_id,
            None,
            lambda r: r.relieve_quota(period=period, metric=metric, amount=amount, reason=reason),
        )

    # -- statements ------------------------------------------------------------------------------
    def commission_period(self, period: str) -> CommissionPeriod:
        label = month(period).label
        try:
            return self.load(CommissionPeriod, period_id(label))
        except NotFound:
            return CommissionPeriod.start(label)

    def _inputs(self, until_position: int | None = None) -> LedgerInputs:
        """Every month's inputs (as they were at `until_position`): for verifying from history."""
        with self.reads.current(*READ_MODELS) as tx:
            return Ledger(tx).inputs(until_position=until_position)

    def _rep_id(self, rep_id: str) -> str:
        return str(self.load(Rep, rep_id).id)

    @staticmethod
    def _known_rep(ledger: Ledger, rep_id: str) -> str:
        rep = str(parse_id(rep_id, "rep"))
        if not ledger.member(rep):
            raise NotFound(f"no rep with id {rep_id}", kind="rep", id=rep_id)
        return rep

    def statement(self, query: StatementOf) -> Statement:
        """A rep's statement for a month: live figures while the month is open, the frozen
        statement once it is closed; one row of the ledger either way."""
        period = month(query.period)
        with self.reads.current(*READ_MODELS) as tx:
            ledger = Ledger(tx)
            rep = self._known_rep(ledger, query.rep_id)
            closed = ledger.closed()
            if period.label in closed:
                kept = ledger.statement(period.label, rep) or frozen_statement(rep, period.label, base_currency(), [])
                fields = ("rep_id", "period", "currency", "status", "total", "digest", "lines")
                return Statement(
                    rep_id=kept["rep_id"],
                    period=kept["period"],
                    currency=kept["currency"],
                    status=kept["status"],
                    total=kept["total"],
                    digest=kept["digest"],
                    lines=kept["lines"],
                    closed_as_of_position=closed[period.label],
                    kept={k: v for k, v in kept.items() if k not in fields},
                )
            if period.label in ledger.months() and not ledger.pending(period.label):
                shown = ledger.statement(period.label, rep)
            else:
                computed = ledger.open_statements(period).get(rep)
                shown = shown_statement(statement_row(rep, computed)["body"]) if computed else None
            if shown is None:
                currency = ledger.inputs([]).currency(rep, period)
                shown = render(rep, period.label, currency, "open", [])
        return Statement(
            rep_id=shown["rep_id"],
            period=shown["period"],
            currency=shown["currency"],
            status=shown["status"],
            total=shown["total"],
            digest=shown["digest"],
            lines=shown["lines"],
            note=OPEN_NOTE,
            kept={k: shown[k] for k in ("clawback_notes", "draw_balance", "unconverted") if shown.get(k) is not None},
        )

    def statement_rows(self, query: StatementOf) -> StatementRows:
        """The statement for a spreadsheet: rep, name, period, currency and status on every row."""
        statement = self.statement(query)
        name = self.load(Rep, statement.rep_id).name
        lead = [statement.rep_id, name, statement.period, statement.currency, statement.status]
        rows = [[*lead, *["" if line[c] is None else line[c] for c in CSV_COLUMNS]] for line in statement.lines]
        rows.append([*lead, "total", "", "", "", "", statement.total, "", ""])
        return StatementRows(
            filename=f"statement-{query.rep_id}-{query.period}.csv",
            header=["rep_id", "rep_name", "period", "currency", "status", *CSV_COLUMNS],
            rows=rows,
        )

    def verify(self, query: VerifyStatement) -> Verification:
        """Recompute a closed statement from history as it stood at the close and compare digests;
        also list what history has changed since (paid as adjustments in the next open month)."""
        label = month(query.period).label
        rep = self._rep_id(query.rep_id)
        books = _Books(self)
        ledger = books.ledger(label)
        if ledger.status != "closed":
            raise InvalidInput(f"{label} is open: only closed statements can be verified", field="period")
        kept = ledger.statements.get(
            rep,
            {
                "lines": [],
                "digest": render(rep, label, base_currency(), "closed", [])["digest"],
                "currency": base_currency(),
            },
        )
        at_close = self._inputs(until_position=ledger.as_of_position)
        recomputed = render(
            rep,
            label,
            kept["currency"],
            "closed",
            statement_lines(at_close, books.ledger, Period.parse(label), at_close.closed, settle=True).get(rep, []),
        )
        now_inputs = self._inputs()
        closed_before = {p: v for p, v in now_inputs.closed.items() if p != label}
        now = render(
            rep,
            label,
            kept["currency"],
            "closed",
            statement_lines(now_inputs, books.ledger, Period.parse(label), closed_before, settle=True).get(rep, []),
        )
        return Verification(
            rep_id=rep,
            period=label,
            frozen_digest=kept["digest"],
            recomputed_digest=recomputed["digest"],
            verified=kept["digest"] == recomputed["digest"],
            differences=_differences(kept["lines"], recomputed["lines"]),
            changed_since_close=_differences(kept["lines"], now["lines"]),
        )

    def explain(self, query: ExplainLine) -> Explanation:
        """Where a line's money came from: plan, version, component, basis before/after, tier
        walk, target, split share and the source events with their store positions. Money is
        shown with two decimals; rates and shares as they are."""
        try:
            label, rep_id, _ = query.line_id.split("~")
            period = month(label)
        except (ValueError, InvalidInput):
            raise NotFound(f"no commission line {query.line_id}", kind="line", id=query.line_id) from None
        with self.reads.current(*READ_MODELS) as tx:
            ledger = Ledger(tx)
            status = "closed" if period.label in ledger.closed() else "open"
            if status == "open" and (period.label not in ledger.months() or ledger.pending(period.label)):
                kept = ledger.open_statements(period).get(rep_id)
            else:
                kept = ledger.full_statement(period.label, rep_id)
        found = next((x for x in (kept or {}).get("lines", []) if x["id"] == query.line_id), None)
        if found is None:
            raise NotFound(f"no commission line {query.line_id}", kind="line", id=query.line_id)
        return Explanation(
            line=shown_explanation(_public(found)),
            rep_id=rep_id,
            period=period.label,
            status=status,
            provenance=shown_explanation(found["explain"]),
        )

    def simulate(self, query: SimulatePlan) -> Simulation:
        """What-if statements under a hypothetical plan over real history; writes nothing."""
        period = month(query.period)
        rep_ids = list(query.rep_ids) if query.rep_ids else None
        with self.reads.current(*READ_MODELS) as tx:
            ledger = Ledger(tx)
            inputs = HypotheticalPlan(tx, ledger.t, {period.label}, query.plan, rep_ids)
        lines = Calculator(inputs).lines(period, settle=True)
        draw_lines(inputs, period, lines)
        reps = rep_ids or sorted(lines)
        statements = [
            render(rep, period.label, inputs.body["currency"], "simulated", lines.get(rep, [])) for rep in reps
        ]
        return Simulation(
            period=period.label,
            plan=inputs.body,
            statements=statements,
            total=sum((s["total"] for s in statements), Decimal("0.00")),
        )

    # -- the period: close, adjustments, disputes -------------------------------------------------
    def close_period(self, command: ClosePeriod, meta: Meta) -> Written:
        """Freeze every statement of the month (rank and team bonuses settled now): one event per
        statement with its lines and SHA-256 digest, and one period event listing them. Refused
        while the month has not ended (the organisation's today) or an earlier month with
        commission activity is open. Later changes to the month become adjustments in the next
        open month."""
        label = month(command.period).label
        period = Period.parse(label)
        with self.reads.current(*READ_MODELS) as tx:
            ledger = Ledger(tx)
            if label in ledger.closed():
                raise Conflict(f"{label} is already closed", code="period_closed", period=label)
            today = clock.today()
            if period.end >= today:
                raise Conflict(
                    f"{label} has not ended: its last day is {period.end.isoformat()}, today is {today.isoformat()}",
                    code="period_not_ended",
                    period=label,
                    today=today.isoformat(),
                )
            still_open = self._earlier_open(ledger, period)
            if still_open:
                raise Conflict(
                    f"close {still_open[0]} first: earlier months with commission activity are open",
                    code="earlier_period_open",
                    period=label,
                    periods=still_open,
                )
            inputs, lines, notes, balances = ledger.month(period, settle=True)
            as_of = ledger.position()
        reps = set(lines) | set(notes) | {rep for rep in inputs.reps() if inputs.plan_for(rep, period.end)}
        statements = {
            rep: frozen_statement(rep, label, inputs.currency(rep, period), lines.get(rep, [])) for rep in sorted(reps)
        }
        for rep, said in notes.items():
            attach_notes(statements[rep], said)
        for rep, balance in balances.items():
            statements[rep]["draw_balance"] = balance
        books = _Books(self)
        commission_period = books.ledger(label)
        commission_period.close(statements=statements, as_of_position=as_of, closed_at=_utc(clock.now()))
        return self._written(meta, commission_period, period=commission_period.period, statements=len(statements))

    def _earlier_open(self, ledger: Ledger, period: Period) -> list[str]:
        """Earlier months with commission activity (wins, payments, refunds, adjustments,
        disputes) that are still open."""
        closed, active = ledger.closed(), set(ledger.months())
        earlier = sorted(label for label in active if label < period.label)
        if not earlier:
            return []
        out = []
        cursor = Period.parse(earlier[0])
        while cursor < period:
            label = cursor.label
            if label not in closed and (label in active or self.commission_period(label).disputes):
                out.append(label)
            cursor = Period.month_of(cursor.end + timedelta(days=1))
        return out

    # -- the period's statements and payouts --------------------------------------------------------
    def period(self, query: PeriodOf) -> PeriodStatements:
        """A month's statements with their status, total and digest; live while the month is open."""
        period = month(query.period)
        label = period.label
        with self.reads.current(*READ_MODELS) as tx:
            ledger = Ledger(tx)
            closed = label in ledger.closed()
            if closed or (label in ledger.months() and not ledger.pending(label)):
                kept = ledger.summaries(label)
            else:
                kept = {rep: summary_of(s) for rep, s in ledger.open_statements(period).items()}
            inputs = ledger.inputs([])  # names and teams
            closed_at = ledger.closed_at(label)
        status = "closed" if closed else "open"
        statements, kinds, teams, currencies = [], {}, {}, {}
        for rep in sorted(kept):
            summary = kept[rep]
            statements.append(
                {
                    "rep_id": rep,
                    "name": inputs.name(rep),
                    "status": summary["status"],
                    "total": summary["total"],
                    "digest": summary["digest"],
                }
            )
            per_kind = dict.fromkeys(PAYROLL_KINDS, Decimal("0.00"))
            for kind, amount in summary["kinds"].items():
                kind = "draw" if kind == "draw_recovery" else kind
                per_kind[kind] = per_kind.get(kind, Decimal("0.00")) + amount
            kinds[rep] = per_kind
            teams[rep] = inputs.team_of(rep, period.end)
            currencies[rep] = summary["currency"]
        return PeriodStatements(
            period=label,
            status=status,
            closed_at=closed_at,
            total=sum((Decimal(str(s["total"])) for s in statements), Decimal("0.00")),
            statements=statements,
            teams=teams,
            kinds=kinds,
            currencies=currencies,
        )

    def payroll(self, query: PeriodOf) -> Payroll:
        """The month for payroll: one row per statement, amounts per line kind, total and digest."""
        shown = self.period(query)
        rows = [
            [
                s["rep_id"],
                s["name"],
                shown.teams.get(s["rep_id"]) or "",
                shown.currencies[s["rep_id"]],
                *(shown.kinds[s["rep_id"]][kind] for kind in PAYROLL_KINDS),
                Decimal(str(s["total"])),
                s["status"],
                s["digest"],
            ]
            for s in shown.statements
        ]
        return Payroll(filename=f"payroll-{shown.period}", header=list(PAYROLL_COLUMNS), rows=rows)

    def _payout(self, meta: Meta, rep_id: str, period: str, change: Any) -> Written:
        rep = self._rep_id(rep_id)
        ledger = self.commission_period(period)
        change(ledger, rep, meta.actor, _utc(clock.now()))
        written = self._written(meta, ledger, rep_id=rep, period=ledger.period)
        return written

    def approve_statement(self, command: ApproveStatement, meta: Meta) -> Written:
        """A closed statement becomes approved (409 not_closed otherwise)."""
        return self._payout(
            meta, command.rep_id, command.period, lambda p, rep, by, at: p.approve(rep_id=rep, by=by, at=at)
        )

    def pay_statement(self, command: PayStatement, meta: Meta) -> Written:
        """An approved statement becomes paid, with the day and the payment reference (409 not_approved otherwise)."""
        return self._payout(
            meta,
            command.rep_id,
            command.period,
            lambda p, rep, by, at: p.pay(
                rep_id=rep, paid_on=command.paid_on, reference=command.reference, by=by, at=at
            ),
        )

    def acknowledge_statement(self, command: AcknowledgeStatement, meta: Meta) -> Written:
        """The rep has seen their closed statement."""
        return self._payout(
            meta, command.rep_id, command.period, lambda p, rep, by, at: p.acknowledge(rep_id=rep, by=by, at=at)
        )

    def disputes(self, query: DisputesOf) -> list[dict[str, Any]]:
        """Disputes of one month, or of every month from the first with commission activity to
        this one; optionally of one rep and with one status, oldest month first."""
        if query.status not in (None, "open", "accepted", "rejected"):
            raise InvalidInput("status must be open, accepted or rejected", field="status", value=query.status)
        if query.period is not None:
            labels = [month(query.period).label]
        else:
            labels = []
            with self.reads.current(*READ_MODELS) as tx:
                active = set(Ledger(tx).months())
            last = Period.month_of(clock.today())
            cursor = Period.parse(min(active)) if active else last
            while cursor <= last:
                labels.append(cursor.label)
                cursor = Period.month_of(cursor.end + timedelta(days=1))
        rep = self._rep_id(query.rep_id) if query.rep_id else None
        items = []
        for label in labels:
            for dispute in self.commission_period(label).disputes.values():
                if rep is not None and dispute["rep_id"] != rep:
                    continue
                if query.status is not None and dispute["status"] != query.status:
                    continue
                items.append(
                    {
                        "id": dispute["dispute_id"],
                        "period": label,
                        "rep_id": dispute["rep_id"],
                        "line_id": dispute["line_id"],
                        "reason": dispute["reason"],
                        "status": dispute["status"],
                        "resolution": dispute.get("resolution"),
                    }
                )
        return items

    def _approver(self, rep_id: str, field: str) -> str:
        approver = self._active_rep(rep_id, field)
        if approver.level not in ("manager", "director"):
            raise Conflict(f"{field} must be a manager or director", code="approver_not_allowed", level=approver.level)
        return str(approver.id)

    def post_commission_adjustment(
        self,
        meta: Meta,
        period: str,
        *,
        rep_id: str,
        kind: str,
        amount: object,
        reason: str,
        approver_id: str | None,
    ) -> Written:
        if not approver_id:
            raise InvalidInput("approver_id is required: the manager or director approving this", field="approver_id")
        rep = self._rep_id(rep_id)
        approver = self._approver(approver_id, "approver_id")
        ledger = self.commission_period(period)
        adjustment_id = uuid4().hex
        ledger.post_adjustment(
            adjustment_id=adjustment_id, rep_id=rep, kind=kind, amount=amount, reason=reason, approver_id=approver
        )
        return self._written(meta, ledger, adjustment_id=adjustment_id)

    def open_dispute(self, meta: Meta, period: str, *, rep_id: str, line_id: str, reason: str) -> Written:
        """A rep disputes a line of their own statement for the month."""
        rep = self._rep_id(rep_id)
        if not line_id.startswith(f"{month(period).label}~{rep}~"):
            raise InvalidInput("line_id is not a line of this rep's statement for this period", field="line_id")
        ledger = self.commission_period(period)
        dispute_id = uuid4().hex
        ledger.open_dispute(dispute_id=dispute_id, rep_id=rep, line_id=line_id, reason=reason)
        return self._written(meta, ledger, dispute_id=dispute_id)

    def resolve_dispute(
        self,
        meta: Meta,
        period: str,
        dispute_id: str,
        *,
        outcome: str,
        reason: str,
        resolver_id: str,
        amount: object | None = None,
        post_to: str | None = None,
    ) -> Written:
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
