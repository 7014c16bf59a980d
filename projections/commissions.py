"""The commission ledger as a read model.

Its own tables keep what statements are computed from (wins with their splits, payments,
refunds, plan versions, assignments, manual adjustments, the closed months) together with a
copy of the org timeline and of the targets, so that it depends on nothing but the events.
From them it keeps every rep's statement of every month as a row: live lines for open months,
the frozen statement (with approval and payment) for closed ones, and the corrections of
closed months that late facts have changed, due in the first open month after them.

An event marks the months it can change (a win or payment its business month; a refund its
month; a plan version, an assignment or an org change every month from its effective date; a
target the months of its period; a fact in a closed month marks that month `late`). After a
batch that reached the store head, `settle` recomputes only the marked months, each from the
inputs of that month alone (its wins and payments, and for its refunds the months they
reverse): the cost of keeping the ledger follows a month's activity, never the length of
history. A query reads one row; a month still marked (a backlog being caught up) is computed
for the query from the same month-scoped inputs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

from domain.assessment import AssessmentRound
from domain.commission.calc import Calculator, Line, Money, Source, Win
from domain.commission.period import CommissionPeriod
from domain.commission.plan import Plan, validate_plan
from domain.commission.statements import (
    attach_notes,
    base_lines,
    corrections,
    draw_lines,
    frozen,
    render,
    shown_explanation,
)
from domain.deal import Deal, dump_splits, load_splits
from domain.fx import FxRates, Rate
from domain.rep import Rep
from domain.target import TargetSheet
from domain.values import Period, base_currency
from infrastructure.database import Tx
from infrastructure.store import DateAsISO
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_position, active_tables
from projections.kpi import utc_text
from projections.money import from_cents, to_cents
from projections.org import ORG, OrgHistory
from projections.targets import TARGETS, Targets, targets_in_force

WIN_COLUMNS = (
    "deal_id",
    "position",
    "signed_on",
    "amount_cents",
    "margin_cents",
    "currency",
    "splits",
    "source",
    "overlays",
)
DEAL_COLUMNS = ("deal_id", "currency", "splits", "overlays")
RELIEF_COLUMNS = ("position", "rep_id", "period", "metric", "amount_cents")
GRADE_COLUMNS = ("key", "position", "scheme_id", "period", "rep_id", "grade", "score")
MOVE_COLUMNS = ("position", "deal_id", "day", "amount_cents", "kind", "source")
PLAN_COLUMNS = ("plan_key", "position", "plan_id", "version", "body")
ASSIGN_COLUMNS = ("position", "rep_id", "plan_id", "effective_from")
CLOSED_COLUMNS = ("period", "position", "as_of_position", "closed_at")
ADJUSTMENT_COLUMNS = ("position", "period", "body")
STATEMENT_COLUMNS = ("key", "period", "rep_id", "status", "body", "detail", "summary")
MONEY_FIELDS = ("amount", "basis_amount")
EMBEDDED = (("org_", ORG), ("targets_", TARGETS))  # read models the ledger keeps a copy of

_codec = JSONTranscoder()
for _transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
    _codec.register(_transcoding)


def dump(value: Any) -> str:
    """JSON that gives back Decimals and dates as they were (lines, explanations, statements)."""
    return _codec.encode(value).decode("utf-8")


def load(text: str) -> Any:
    return _codec.decode(text.encode("utf-8"))


def _plain(value: Any) -> str:
    if isinstance(value, (Decimal, date)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def summary_of(statement: dict[str, Any]) -> dict[str, Any]:
    """What a period listing and payroll need of a statement: status, total, digest, currency and
    the total of each line kind."""
    kinds: dict[str, Decimal] = {}
    for line in statement["lines"]:
        kinds[line["kind"]] = kinds.get(line["kind"], Decimal("0.00")) + Decimal(str(line["amount"]))
    return {
        "status": statement.get("status", "closed"),
        "total": Decimal(str(statement["total"])),
        "digest": statement["digest"],
        "currency": statement["currency"],
        "kinds": kinds,
    }


def _summary_text(summary: dict[str, Any]) -> str:
    return json.dumps(summary, default=_plain, ensure_ascii=False, separators=(",", ":"))


def statement_row(rep_id: str, statement: dict[str, Any]) -> dict[str, Any]:
    """A statement as the ledger keeps it: `body`, what a statement answer shows (lines without
    their explanations, money as text), and `detail`, the lines with key and explanation and the
    refunds' notes at full precision (explain, corrections of closed months)."""
    period, notes = statement["period"], statement.get("clawback_notes")
    shown = {k: v for k, v in statement.items() if k not in ("lines", "clawback_notes")}
    shown["status"] = shown.get("status", "closed")
    shown["lines"] = [{k: v for k, v in line.items() if k not in ("key", "explain")} for line in statement["lines"]]
    if notes:
        shown["clawback_notes"] = shown_explanation({"notes": notes})["notes"]
    return {
        "key": statement_key(period, rep_id),
        "period": period,
        "rep_id": rep_id,
        "status": shown["status"],
        "body": json.dumps(shown, default=_plain, ensure_ascii=False, separators=(",", ":")),
        "detail": dump({"lines": statement["lines"], "clawback_notes": notes}),
        "summary": _summary_text(summary_of(shown)),
    }


def shown_statement(body: str) -> dict[str, Any]:
    """A row's `body` with its money back as Decimals."""
    statement: dict[str, Any] = json.loads(body)
    statement["total"] = Decimal(statement["total"])
    for line in statement["lines"]:
        for name in MONEY_FIELDS:
            line[name] = Decimal(line[name])
    return statement


def full_statement(body: str, detail: str) -> dict[str, Any]:
    """A row as the statement it was made from: lines with key and explanation."""
    kept = load(detail)
    statement = {**shown_statement(body), "lines": kept["lines"]}
    statement.pop("clawback_notes", None)
    if kept["clawback_notes"]:
        statement["clawback_notes"] = kept["clawback_notes"]
    return statement


def _source(r: Recorded) -> str:
    meta = getattr(r.event, "meta", None) or {}
    return json.dumps(
        {
            "type": r.type,
            "aggregate_id": r.aggregate_id,
            "version": r.event.originator_version,
            "position": r.position,
            "recorded_at": utc_text(r.event.timestamp),
            "actor": meta.get("actor"),
        },
        ensure_ascii=False,
    )


def _plan_body(body: dict) -> str:
    return json.dumps({**body, "effective_from": body["effective_from"].isoformat()}, ensure_ascii=False)


def _embedded_tables() -> dict[str, list[str]]:
    out = {}
    for prefix, part in EMBEDDED:
        names = {t: "{" + prefix + t + "}" for t in part.tables}
        out.update({prefix + t: [stmt.format(**names) for stmt in stmts] for t, stmts in part.tables.items()})
    return out


def part_tables(tables: dict[str, str], prefix: str, part: Projection) -> dict[str, str]:
    return {t: tables[prefix + t] for t in part.tables}


def _label(day: date) -> str:
    return day.strftime("%Y-%m")


def _next(label: str) -> str:
    return _label(Period.parse(label).end + timedelta(days=1))


def statement_key(period: str, rep_id: str) -> str:
    return f"{period}|{rep_id}"


class CommissionsProjection(Projection):
    """The commission ledger (see the module docstring)."""

    name = "commissions"
    # the ledger's own version (4: statement rows, spans, draws, reliefs, overlays) and those of the
    # org and targets read models it embeds
    version = 4200 + 10 * ORG.version + TARGETS.version  # 42: currencies
    events = tuple(e for _, part in EMBEDDED for e in part.events)
    tables = {
        "deals": [
            "CREATE TABLE IF NOT EXISTS {deals} (deal_id TEXT PRIMARY KEY, currency TEXT NOT NULL, "
            "splits TEXT NOT NULL, overlays TEXT NOT NULL)"
        ],
        "wins": [
            """CREATE TABLE IF NOT EXISTS {wins} (deal_id TEXT PRIMARY KEY, position BIGINT NOT NULL,
                    signed_on TEXT NOT NULL, amount_cents BIGINT NOT NULL, margin_cents BIGINT NOT NULL,
                    currency TEXT NOT NULL, splits TEXT NOT NULL, source TEXT NOT NULL, overlays TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {wins}_signed ON {wins} (signed_on)",
        ],
        "moves": [
            """CREATE TABLE IF NOT EXISTS {moves} (position BIGINT PRIMARY KEY, deal_id TEXT NOT NULL,
                     day TEXT NOT NULL, amount_cents BIGINT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {moves}_day ON {moves} (day)",
            "CREATE INDEX IF NOT EXISTS {moves}_deal ON {moves} (deal_id)",
        ],
        "plans": [
            """CREATE TABLE IF NOT EXISTS {plans} (plan_key TEXT PRIMARY KEY, position BIGINT NOT NULL,
                     plan_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL)"""
        ],
        "assignments": [
            """CREATE TABLE IF NOT EXISTS {assignments} (position BIGINT PRIMARY KEY, rep_id TEXT NOT NULL,
                           plan_id TEXT NOT NULL, effective_from TEXT NOT NULL)"""
        ],
        "closed": [
            """CREATE TABLE IF NOT EXISTS {closed} (period TEXT PRIMARY KEY, position BIGINT NOT NULL,
                      as_of_position BIGINT NOT NULL, closed_at TEXT)"""
        ],
        "adjustments": [
            """CREATE TABLE IF NOT EXISTS {adjustments} (position BIGINT PRIMARY KEY, period TEXT NOT NULL,
                           body TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {adjustments}_period ON {adjustments} (period)",
        ],
        # every rep's statement of every month: live (open) or frozen (closed, approved, paid)
        "statements": [
            """CREATE TABLE IF NOT EXISTS {statements} (key TEXT PRIMARY KEY, period TEXT NOT NULL,
                          rep_id TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL, detail TEXT NOT NULL,
                          summary TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {statements}_period ON {statements} (period, rep_id)",
        ],
        # corrections of closed months changed by late facts, due in an open month
        "corrections": [
            """CREATE TABLE IF NOT EXISTS {corrections} (key TEXT PRIMARY KEY, period TEXT NOT NULL,
                           rep_id TEXT NOT NULL, lines TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {corrections}_period ON {corrections} (period)",
        ],
        # months with commission activity; `dirty`: to recompute; `late`: closed, changed since
        "months": [
            """CREATE TABLE IF NOT EXISTS {months} (period TEXT PRIMARY KEY, dirty INTEGER NOT NULL,
                      late INTEGER NOT NULL)"""
        ],
        "periods": ["CREATE TABLE IF NOT EXISTS {periods} (period_id TEXT PRIMARY KEY, period TEXT NOT NULL)"],
        "grades": [
            """CREATE TABLE IF NOT EXISTS {grades} (key TEXT PRIMARY KEY, position BIGINT NOT NULL,
                      scheme_id TEXT NOT NULL, period TEXT NOT NULL, rep_id TEXT NOT NULL, grade TEXT,
                      score TEXT NOT NULL)"""
        ],
        "reliefs": [
            """CREATE TABLE IF NOT EXISTS {reliefs} (position BIGINT PRIMARY KEY, rep_id TEXT NOT NULL,
                       period TEXT NOT NULL, metric TEXT NOT NULL, amount_cents BIGINT NOT NULL)"""
        ],
        # exchange rates into base currency, every one as set (verify reads them as of a position)
        "rates": [
            """CREATE TABLE IF NOT EXISTS {rates} (position BIGINT PRIMARY KEY, currency TEXT NOT NULL,
                     effective_on TEXT NOT NULL, rate TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {rates}_currency ON {rates} (currency, effective_on, position)",
        ],
        **_embedded_tables(),
    }

    def handle(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> None:
        for prefix, part in EMBEDDED:
            mine = [r for r in batch if type(r.event) in part.handlers]
            if mine:
                part.handle(tx, part_tables(tables, prefix, part), mine)
        super().handle(tx, tables, batch)

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Any]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type in ("DealSplitsSet", "DealWon"))
        return {
            "tx": tx,
            "tables": tables,
            "deals": deals,
            "wins": Rows(tx, tables["wins"], "deal_id", WIN_COLUMNS),
            "moves": Rows(tx, tables["moves"], "position", MOVE_COLUMNS),
            "plans": Rows(tx, tables["plans"], "plan_key", PLAN_COLUMNS),
            "assignments": Rows(tx, tables["assignments"], "position", ASSIGN_COLUMNS),
            "closed": Rows(tx, tables["closed"], "period", CLOSED_COLUMNS),
            "adjustments": Rows(tx, tables["adjustments"], "position", ADJUSTMENT_COLUMNS),
            "statements": Rows(tx, tables["statements"], "key", STATEMENT_COLUMNS),
            "months": Rows(tx, tables["months"], "period", ("period", "dirty", "late")),
            "periods": Rows(tx, tables["periods"], "period_id", ("period_id", "period")),
            "reliefs": Rows(tx, tables["reliefs"], "position", RELIEF_COLUMNS),
            "grades": Rows(tx, tables["grades"], "key", GRADE_COLUMNS),
            "rates": Rows(tx, tables["rates"], "position", ("position", "currency", "effective_on", "rate")),
        }

    # -- what an event changes ------------------------------------------------------------------
    @staticmethod
    def _mark(s: dict[str, Any], label: str) -> None:
        """The month's statements may change: recompute it if open; if closed, its corrections."""
        row = s["months"].get(label) or {"period": label, "dirty": 0, "late": 0}
        if s["closed"].get(label) is not None:
            row["late"] = 1
        else:
            row["dirty"] = 1
        s["months"].put(row)

    def _mark_from(self, s: dict[str, Any], day: date | None) -> None:
        """Every month with activity from `day` on may change (a plan, an assignment, the org)."""
        start = _label(day or date.min)
        known = {p for (p,) in s["tx"].all(f"SELECT period FROM {s['tables']['months']} WHERE period >= ?", (start,))}
        known.update(row["period"] for row in s["months"].loaded() if row["period"] >= start)
        for label in sorted(known):
            self._mark(s, label)

    def _mark_period(self, s: dict[str, Any], period: str) -> None:
        whole = Period.parse(period)
        cursor = Period.month_of(whole.start)
        while cursor.start <= whole.end:
            row = s["months"].get(cursor.label)
            if row is not None:
                self._mark(s, cursor.label)
            cursor = Period.month_of(cursor.end + timedelta(days=1))

    # -- deals ----------------------------------------------------------------------------------
    @handles(Deal.Opened)
    def deal_opened(self, s: dict[str, Any], r: Recorded) -> None:
        s["deals"].put(
            {
                "deal_id": r.aggregate_id,
                "currency": r.event.currency,
                "splits": dump_splits([{"rep_id": r.event.owner_id, "share": "1"}]),
                "overlays": "[]",
            }
        )

    @handles(Deal.SplitsSet)
    def deal_splits_set(self, s: dict[str, Any], r: Recorded) -> None:
        overlays = [{"party": o["party"], "share": str(o["share"])} for o in getattr(r.event, "overlays", None) or []]
        s["deals"].update(r.aggregate_id, splits=dump_splits(r.event.splits), overlays=json.dumps(overlays))

    @handles(Deal.Won)
    def deal_won(self, s: dict[str, Any], r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        e = r.event
        s["wins"].put(
            {
                "deal_id": r.aggregate_id,
                "position": r.position,
                "signed_on": e.signed_on.isoformat(),
                "amount_cents": to_cents(e.amount),
                "margin_cents": to_cents(e.gross_margin),
                "currency": deal["currency"],
                "splits": deal["splits"],
                "source": _source(r),
                "overlays": deal["overlays"],
            }
        )
        self._mark(s, _label(e.signed_on))

    def _move(self, s: dict[str, Any], r: Recorded, day: date, kind: str) -> None:
        s["moves"].put(
            {
                "position": r.position,
                "deal_id": r.aggregate_id,
                "day": day.isoformat(),
                "amount_cents": to_cents(r.event.amount),
                "kind": kind,
                "source": _source(r),
            }
        )
        self._mark(s, _label(day))

    @handles(Deal.PaymentReceived)
    def deal_payment_received(self, s: dict[str, Any], r: Recorded) -> None:
        self._move(s, r, r.event.received_on, "payment")

    @handles(Deal.Refunded)
    def deal_refunded(self, s: dict[str, Any], r: Recorded) -> None:
        self._move(s, r, r.event.refunded_on, getattr(r.event, "kind", "refund"))

    # -- plans, assignments, the org, targets ----------------------------------------------------
    def _plan(self, s: dict[str, Any], r: Recorded, version: int) -> None:
        s["plans"].put(
            {
                "plan_key": f"{r.aggregate_id}|{version}",
                "position": r.position,
                "plan_id": r.aggregate_id,
                "version": version,
                "body": _plan_body(r.event.body),
            }
        )
        self._mark_from(s, r.event.body["effective_from"])

    @handles(Plan.Created)
    def plan_created(self, s: dict[str, Any], r: Recorded) -> None:
        self._plan(s, r, 1)

    @handles(Plan.Versioned)
    def plan_versioned(self, s: dict[str, Any], r: Recorded) -> None:
        self._plan(s, r, r.event.version)

    @handles(Rep.PlanAssigned)
    def rep_plan_assigned(self, s: dict[str, Any], r: Recorded) -> None:
        s["assignments"].put(
            {
                "position": r.position,
                "rep_id": r.aggregate_id,
                "plan_id": r.event.plan_id,
                "effective_from": r.event.effective_from.isoformat(),
            }
        )
        self._mark_from(s, r.event.effective_from)

    @handles(Rep.Hired)
    def rep_hired(self, s: dict[str, Any], r: Recorded) -> None:
        self._mark_from(s, r.event.hired_on)

    @handles(Rep.LevelChanged, Rep.Transferred)
    def rep_changed(self, s: dict[str, Any], r: Recorded) -> None:
        self._mark_from(s, r.event.effective_from)

    @handles(Rep.Left)
    def rep_left(self, s: dict[str, Any], r: Recorded) -> None:
        self._mark_from(s, r.event.effective_on)

    @handles(TargetSheet.TargetSet, TargetSheet.Decomposed)
    def target_changed(self, s: dict[str, Any], r: Recorded) -> None:
        if r.event.metric in ("revenue", "gross_margin"):
            self._mark_period(s, r.event.period)

    @handles(Rep.QuotaRelieved)
    def quota_relieved(self, s: dict[str, Any], r: Recorded) -> None:
        e = r.event
        s["reliefs"].put(
            {
                "position": r.position,
                "rep_id": r.aggregate_id,
                "period": e.period,
                "metric": e.metric,
                "amount_cents": to_cents(e.amount),
            }
        )
        self._mark_period(s, e.period)

    @handles(AssessmentRound.ScorecardFrozen)
    def scorecard_frozen(self, s: dict[str, Any], r: Recorded) -> None:
        """A finalized grade: the assessment bonus of the period's last month."""
        e = r.event
        s["grades"].put(
            {
                "key": f"{e.scheme_id}|{e.period}|{e.rep_id}",
                "position": r.position,
                "scheme_id": e.scheme_id,
                "period": e.period,
                "rep_id": e.rep_id,
                "grade": e.grade,
                "score": e.score,
            }
        )
        self._mark(s, _label(Period.parse(e.period).end))

    # -- the commission period ---------------------------------------------------------------------
    @handles(FxRates.RateSet)
    def rate_set(self, s: dict[str, Any], r: Recorded) -> None:
        """A rate changes the lines of its currency's deals from its date on (a closed month's as a
        correction, like any late fact)."""
        e = r.event
        s["rates"].put(
            {
                "position": r.position,
                "currency": e.currency,
                "effective_on": e.effective_on.isoformat(),
                "rate": str(e.rate),
            }
        )
        self._mark_from(s, e.effective_on)

    @handles(CommissionPeriod.Opened)
    def period_opened(self, s: dict[str, Any], r: Recorded) -> None:
        s["periods"].put({"period_id": r.aggregate_id, "period": r.event.period})

    def _period_of(self, s: dict[str, Any], r: Recorded) -> str:
        """The month of a commission-period event (its aggregate's first event names it)."""
        return str(s["periods"].get(r.aggregate_id)["period"])

    @handles(CommissionPeriod.AdjustmentPosted)
    def adjustment_posted(self, s: dict[str, Any], r: Recorded) -> None:
        e = r.event
        period = self._period_of(s, r)
        body = {
            "adjustment_id": e.adjustment_id,
            "rep_id": e.rep_id,
            "kind": e.kind,
            "amount": e.amount,
            "reason": e.reason,
            "approver_id": e.approver_id,
            "dispute_id": e.dispute_id,
            "corrects_line": e.corrects_line,
        }
        s["adjustments"].put({"position": r.position, "period": period, "body": dump(body)})
        self._mark(s, period)

    @staticmethod
    def _freeze(s: dict[str, Any], rep_id: str, statement: dict[str, Any]) -> None:
        s["statements"].put(statement_row(rep_id, statement))

    @handles(CommissionPeriod.StatementClosed)
    def statement_closed(self, s: dict[str, Any], r: Recorded) -> None:
        self._freeze(s, r.event.rep_id, r.event.statement)

    @handles(CommissionPeriod.Closed)
    def period_closed(self, s: dict[str, Any], r: Recorded) -> None:
        e = r.event
        tx, t, rows = s["tx"], s["tables"], s["statements"]
        s["closed"].put(
            {
                "period": e.period,
                "position": r.position,
                "as_of_position": e.as_of_position,
                "closed_at": getattr(e, "closed_at", None),
            }
        )
        for rep_id, kept in e.statements.items():
            if "lines" in kept:  # closed before statements had events of their own: kept whole here
                self._freeze(s, rep_id, kept)
        # the month's open rows give way to the frozen ones, which hold its corrections too
        rows.load(key for (key,) in tx.all(f"SELECT key FROM {t['statements']} WHERE period = ?", (e.period,)))
        for row in rows.loaded():
            if row["period"] == e.period and row["status"] == "open":
                rows.delete(row["key"])
        tx.execute(f"DELETE FROM {t['corrections']} WHERE period = ?", (e.period,))
        months = s["months"]
        months.put({"period": e.period, "dirty": 0, "late": 0})
        months.load(p for (p,) in tx.all(f"SELECT period FROM {t['months']} WHERE late = 1"))
        for row in months.loaded():
            if row["late"] and row["period"] < e.period:
                months.put({**row, "late": 0})  # what changed in it is settled in this month's statements
        if self._uses_draws(s):  # the bonuses settled at close change the balance the next months carry
            later = tx.one(f"SELECT MIN(period) FROM {t['months']} WHERE period > ?", (e.period,))
            if later and later[0]:
                self._mark(s, later[0])

    @staticmethod
    def _uses_draws(s: dict[str, Any]) -> bool:
        bodies = [body for (body,) in s["tx"].all(f"SELECT body FROM {s['tables']['plans']}")]
        bodies.extend(row["body"] for row in s["plans"].loaded())
        return any(json.loads(body).get("draw") for body in bodies)

    def _payout(self, s: dict[str, Any], r: Recorded, **changes: Any) -> None:
        key = statement_key(self._period_of(s, r), r.event.rep_id)
        row = s["statements"].get(key)
        if row is None:
            return
        body = {**json.loads(row["body"]), **changes}
        text = json.dumps(body, default=_plain, ensure_ascii=False, separators=(",", ":"))
        summary = {**json.loads(row["summary"]), "status": body["status"]}
        s["statements"].put({**row, "status": body["status"], "body": text, "summary": _summary_text(summary)})

    @handles(CommissionPeriod.StatementApproved)
    def statement_approved(self, s: dict[str, Any], r: Recorded) -> None:
        self._payout(s, r, status="approved", approved_by=r.event.by, approved_at=r.event.at)

    @handles(CommissionPeriod.StatementPaid)
    def statement_paid(self, s: dict[str, Any], r: Recorded) -> None:
        e = r.event
        self._payout(s, r, status="paid", paid_on=e.paid_on, reference=e.reference, paid_by=e.by, paid_at=e.at)

    @handles(CommissionPeriod.StatementAcknowledged)
    def statement_acknowledged(self, s: dict[str, Any], r: Recorded) -> None:
        self._payout(s, r, acknowledged_by=r.event.by, acknowledged_at=r.event.at)

    # -- settling: recompute the marked months ------------------------------------------------------
    def settle(self, tx: Tx, tables: dict[str, str], *, at_head: bool) -> None:
        if at_head:
            Ledger(tx, tables).settle()


COMMISSIONS = CommissionsProjection()


# -- inputs -----------------------------------------------------------------------------------------
class LedgerInputs:
    """The calculator's inputs from the ledger's tables: plans, assignments, the org timeline and
    targets in full (they are small), and the money of either every month or only of `months`
    together with the months their refunds reverse. Optionally as they were at a store position."""

    def __init__(
        self, tx: Tx, tables: dict[str, str], *, months: Iterable[str] | None = None, until_position: int | None = None
    ) -> None:
        self.tx, self.t = tx, tables
        self.until_position = until_position
        self._limit = until_position or 2**62
        self._rates: dict[tuple[str, date], Rate | None] = {}
        self.plans: dict[str, list[dict]] = {}
        for _, _, plan_id, version, body in tx.all(
            f"SELECT {', '.join(PLAN_COLUMNS)} FROM {tables['plans']} WHERE position <= ? ORDER BY version",
            (self._limit,),
        ):
            parsed = json.loads(body)
            parsed["effective_from"] = date.fromisoformat(parsed["effective_from"])
            self.plans.setdefault(plan_id, []).append({"version": version, **parsed})
        self.assignments: dict[str, list[tuple[date, str]]] = {}
        for _, rep_id, plan_id, effective in tx.all(
            f"SELECT {', '.join(ASSIGN_COLUMNS)} FROM {tables['assignments']} WHERE position <= ? ORDER BY position",
            (self._limit,),
        ):
            self.assignments.setdefault(rep_id, []).append((date.fromisoformat(effective), plan_id))
        self._targets: Targets | None = None  # read on first use: a period listing needs none
        self.grades = {
            (scheme, period, rep): {"grade": grade, "score": score, "position": position}
            for position, scheme, period, rep, grade, score in tx.all(
                f"SELECT position, scheme_id, period, rep_id, grade, score FROM {tables['grades']} WHERE position <= ?",
                (self._limit,),
            )
        }
        self.reliefs: dict[str, list[tuple[Period, str, Decimal]]] = {}
        for rep_id, period, metric, cents in tx.all(
            f"SELECT rep_id, period, metric, amount_cents FROM {tables['reliefs']} WHERE position <= ?",
            (self._limit,),
        ):
            self.reliefs.setdefault(rep_id, []).append((Period.parse(period), metric, from_cents(cents)))
        self.org = OrgHistory(tx, until_position, tables=part_tables(tables, "org_", ORG))
        self.closed = {
            period: (position, as_of)
            for period, position, as_of in tx.all(
                f"SELECT period, position, as_of_position FROM {tables['closed']} WHERE position <= ?", (self._limit,)
            )
        }
        self.wins: dict[str, Win] = {}
        self._moves: dict[int, Money] = {}
        if months is None:
            self._add_wins("1 = 1", ())
            self._add_moves("1 = 1", ())
        else:
            self._load_months(set(months))
        self.movements = sorted(self._moves.values(), key=lambda m: (m.day, m.source.position))

    # -- loading -----------------------------------------------------------------------------------
    def _add_wins(self, where: str, params: Sequence[Any]) -> None:
        for deal_id, _, signed_on, amount, margin, currency, splits, source, overlays in self.tx.all(
            f"SELECT {', '.join(WIN_COLUMNS)} FROM {self.t['wins']} WHERE position <= ? AND ({where})",
            (self._limit, *params),
        ):
            self.wins[deal_id] = Win(
                deal_id,
                date.fromisoformat(signed_on),
                from_cents(amount),
                from_cents(margin),
                currency,
                tuple((split["rep_id"], split["share"]) for split in load_splits(splits)),
                Source(**json.loads(source)),
                tuple((o["party"], Decimal(o["share"])) for o in json.loads(overlays)),
            )

    def _add_moves(self, where: str, params: Sequence[Any]) -> None:
        for position, deal_id, day, amount, kind, src in self.tx.all(
            f"SELECT {', '.join(MOVE_COLUMNS)} FROM {self.t['moves']} WHERE position <= ? AND ({where})",
            (self._limit, *params),
        ):
            self._moves[position] = Money(
                deal_id, date.fromisoformat(day), from_cents(amount), kind, Source(**json.loads(src))
            )

    @staticmethod
    def _within(column: str, labels: Iterable[str]) -> tuple[str, list[str]]:
        spans = [(Period.parse(label).start.isoformat(), _next(label) + "-01") for label in sorted(labels)]
        where = " OR ".join(f"({column} >= ? AND {column} < ?)" for _ in spans) or "1 = 0"
        return where, [bound for span in spans for bound in span]

    def _by_deal(self, column: str, deal_ids: Sequence[str]) -> tuple[str, list[str]]:
        return f"{column} IN ({', '.join('?' * len(deal_ids))})" if deal_ids else "1 = 0", list(deal_ids)

    def _load_months(self, months: set[str]) -> None:
        """The months' wins and money movements; for their refunds, the refunded deals' wins
        and payments and everything of the months those were paid in (what a clawback reverses);
        when a plan accumulates over a quarter or year, everything of those months' year so far."""
        self._add_wins(*self._within("signed_on", months))
        self._add_moves(*self._within("day", months))
        refunded = sorted({m.deal_id for m in self._moves.values() if m.kind != "payment"})
        for i in range(0, len(refunded), 500):
            part = refunded[i : i + 500]
            self._add_wins(*self._by_deal("deal_id", part))
            self._add_moves(*self._by_deal("deal_id", part))
        origins = {_label(self.wins[d].signed_on) for d in refunded if d in self.wins}
        paid = set(refunded)
        origins.update(_label(m.day) for m in self._moves.values() if m.deal_id in paid and m.kind == "payment")
        if self.uses_spans():
            origins.update(_label(date(int(m[:4]), n, 1)) for m in months | origins for n in range(1, int(m[5:7])))
        extra = origins - months
        if extra:
            self._add_wins(*self._within("signed_on", extra))
            self._add_moves(*self._within("day", extra))
        missing = sorted({m.deal_id for m in self._moves.values()} - set(self.wins))
        for i in range(0, len(missing), 500):
            self._add_wins(*self._by_deal("deal_id", missing[i : i + 500]))

    # -- the calculator's questions ------------------------------------------------------------------
    def plan_for(self, rep_id: str, day: date) -> tuple[str, dict] | None:
        chosen = None
        for effective, plan_id in sorted(self.assignments.get(rep_id, []), key=lambda a: a[0]):
            if effective <= day:
                chosen = plan_id
        if chosen is None:
            return None
        version = None
        for candidate in self.plans.get(chosen, []):
            if candidate["effective_from"] <= day:
                version = candidate
        return None if version is None else (chosen, version)

    def target(self, scope: str, period: Period, metric: str = "revenue") -> Decimal | None:
        if self._targets is None:
            embedded = part_tables(self.t, "targets_", TARGETS)
            self._targets = targets_in_force(self.tx, until_position=self._limit, tables=embedded)
        return self._targets.get(period, metric, scope)[0]

    def relief(self, rep_id: str, period: Period, metric: str) -> Decimal:
        """Quota relief recorded for the period or any part of it."""
        return sum(
            (
                amount
                for within, name, amount in self.reliefs.get(rep_id, [])
                if name == metric and period.start <= within.start and within.end <= period.end
            ),
            Decimal("0.00"),
        )

    def draw_balance(self, rep_id: str, period: Period) -> Decimal:
        """A recoverable draw's balance at the end of the month before `period`: the ledger's
        statement of the latest earlier month that has one, then a full draw advanced for each
        month after it without a statement (nothing else was paid in it)."""
        skipped: list[Period] = []
        cursor = Period.month_of(period.start - timedelta(days=1))
        balance = Decimal("0.00")
        for _ in range(240):
            found = self.plan_for(rep_id, cursor.end)
            draw = found[1].get("draw") if found else None
            if not draw or not draw["recoverable"]:
                break
            row = self.tx.one(
                f"SELECT body FROM {self.t['statements']} WHERE key = ?", (statement_key(cursor.label, rep_id),)
            )
            kept = json.loads(row[0]).get("draw_balance") if row else None
            if kept is not None:
                balance = Decimal(kept)
                break
            skipped.append(cursor)
            cursor = Period.month_of(cursor.start - timedelta(days=1))
        for month in reversed(skipped):
            found = self.plan_for(rep_id, month.end)
            balance += Decimal(found[1]["draw"]["amount"]) if found else 0
        return balance

    def rate(self, code: str, day: date) -> Rate | None:
        """The rate of `code` into base currency in force on `day`, as recorded by the inputs'
        position (1 for the base currency; None when none is set)."""
        if code == base_currency():
            return Rate(code, Decimal(1), date.min, 0)
        key = (code, day)
        if key not in self._rates:
            row = self.tx.one(
                f"SELECT rate, effective_on, position FROM {self.t['rates']} WHERE currency = ? AND effective_on <= ? "
                "AND position <= ? ORDER BY effective_on DESC, position DESC LIMIT 1",
                (code, day.isoformat(), self._limit),
            )
            self._rates[key] = Rate(code, Decimal(row[0]), date.fromisoformat(row[1]), int(row[2])) if row else None
        return self._rates[key]

    def grade(self, scheme_id: str, period: str, rep_id: str) -> dict[str, Any] | None:
        """The grade of the rep's finalized scorecard of a scheme for a period."""
        return self.grades.get((scheme_id, period, rep_id))

    def uses_draws(self) -> bool:
        return any(version.get("draw") for versions in self.plans.values() for version in versions)

    def uses_spans(self) -> bool:
        """Some plan accumulates over a quarter or a year (a measure, a target bonus)."""
        return any(
            c.get("measure", "period") != "period" or (c["type"] == "target_bonus" and c["over"] != "month")
            for versions in self.plans.values()
            for version in versions
            for c in version["components"]
        )

    def ancestors(self, rep_id: str, day: date) -> list[str]:
        return self.org.ancestors(rep_id, day)

    def team_of(self, rep_id: str, day: date) -> str | None:
        return (self.org.attrs(rep_id, day) or {}).get("team")

    def reps(self) -> list[str]:
        return sorted(self.org.timelines)

    def name(self, rep_id: str) -> str:
        return self.org.names.get(rep_id) or ""

    def currency(self, rep_id: str, period: Period) -> str:
        found = self.plan_for(rep_id, period.end)
        return str(found[1]["currency"]) if found else base_currency()

    def activity_months(self) -> set[str]:
        """Months in which a deal was won, paid or refunded (of the money loaded)."""
        months = {_label(win.signed_on) for win in self.wins.values()}
        months.update(_label(move.day) for move in self.movements)
        return months


class HypotheticalPlan(LedgerInputs):
    """Real history under a plan that does not exist: every rep (or the chosen ones) on it."""

    def __init__(self, tx: Tx, tables: dict[str, str], months: set[str], body: dict, rep_ids: list[str] | None) -> None:
        super().__init__(tx, tables, months=months)
        self.body = {"version": 1, **validate_plan(body)}
        self.only = set(rep_ids) if rep_ids else None

    def draw_balance(self, rep_id: str, period: Period) -> Decimal:
        return Decimal("0.00")  # a plan that does not exist has advanced nothing

    def plan_for(self, rep_id: str, day: date) -> tuple[str, dict] | None:
        if self.only is not None and rep_id not in self.only:
            return None
        return ("simulation", self.body) if self.body["effective_from"] <= day else None


# -- the ledger: settling marked months, and queries -------------------------------------------------
class Book:
    """A month as the statement functions see it: its manual adjustments and, once closed,
    the frozen statements."""

    def __init__(self, period: str, adjustments: list[dict[str, Any]], statements: dict[str, dict[str, Any]]) -> None:
        self.period = period
        self.adjustments = adjustments
        self.statements = statements


class Ledger:
    """The commission ledger's tables in one transaction (the active ones, unless `tables`)."""

    def __init__(self, tx: Tx, tables: dict[str, str] | None = None) -> None:
        self.tx = tx
        self.t = tables or active_tables(tx, COMMISSIONS)
        self._books: dict[str, Book] = {}

    # -- reading ---------------------------------------------------------------------------------
    def position(self) -> int:
        return active_position(self.tx, COMMISSIONS.name) or 0

    def closed(self) -> dict[str, int]:
        """Closed months and the store position their statements were frozen at."""
        return {p: int(a) for p, a in self.tx.all(f"SELECT period, as_of_position FROM {self.t['closed']}")}

    def closed_at(self, period: str) -> str | None:
        return self.tx.value(f"SELECT closed_at FROM {self.t['closed']} WHERE period = ?", (period,))  # type: ignore[no-any-return]

    def months(self) -> list[str]:
        """Months with commission activity (wins, payments, refunds, adjustments) or closed."""
        return [p for (p,) in self.tx.all(f"SELECT period FROM {self.t['months']} ORDER BY period")]

    def pending(self, period: str) -> bool:
        """The month's statements wait to be recomputed (a backlog is being caught up)."""
        waiting = self.tx.value(
            f"SELECT COUNT(*) FROM {self.t['months']} WHERE (period = ? AND dirty = 1) OR (period < ? AND late = 1)",
            (period, period),
        )
        return bool(waiting)

    def book(self, period: str) -> Book:
        if period not in self._books:
            adjustments = [
                load(body)
                for (body,) in self.tx.all(
                    f"SELECT body FROM {self.t['adjustments']} WHERE period = ? ORDER BY position", (period,)
                )
            ]
            statements = {
                rep: full_statement(body, detail)
                for rep, body, detail in self.tx.all(
                    f"SELECT rep_id, body, detail FROM {self.t['statements']} WHERE period = ? AND status <> 'open'",
                    (period,),
                )
            }
            self._books[period] = Book(period, adjustments, statements)
        return self._books[period]

    def statement(self, period: str, rep_id: str) -> dict[str, Any] | None:
        """A rep's statement of a month as answered (lines without their explanations)."""
        row = self.tx.one(f"SELECT body FROM {self.t['statements']} WHERE key = ?", (statement_key(period, rep_id),))
        return shown_statement(row[0]) if row else None

    def full_statement(self, period: str, rep_id: str) -> dict[str, Any] | None:
        """A rep's statement of a month with every line's key and explanation."""
        row = self.tx.one(
            f"SELECT body, detail FROM {self.t['statements']} WHERE key = ?", (statement_key(period, rep_id),)
        )
        return full_statement(*row) if row else None

    def statements(self, period: str) -> dict[str, dict[str, Any]]:
        """Every rep's statement of a month as answered."""
        return {
            rep: shown_statement(body)
            for rep, body in self.tx.all(
                f"SELECT rep_id, body FROM {self.t['statements']} WHERE period = ? ORDER BY rep_id", (period,)
            )
        }

    def summaries(self, period: str) -> dict[str, dict[str, Any]]:
        """Every rep's statement of a month in brief (`summary_of`), money as Decimals."""
        out = {}
        for rep, text in self.tx.all(
            f"SELECT rep_id, summary FROM {self.t['statements']} WHERE period = ? ORDER BY rep_id", (period,)
        ):
            summary = json.loads(text)
            summary["total"] = Decimal(summary["total"])
            summary["kinds"] = {kind: Decimal(amount) for kind, amount in summary["kinds"].items()}
            out[rep] = summary
        return out

    def member(self, rep_id: str) -> bool:
        """The rep is known to the ledger's copy of the org."""
        members = part_tables(self.t, "org_", ORG)["members"]
        return self.tx.one(f"SELECT 1 FROM {members} WHERE rep_id = ?", (rep_id,)) is not None

    def inputs(self, months: Iterable[str] | None = None, until_position: int | None = None) -> LedgerInputs:
        return LedgerInputs(self.tx, self.t, months=months, until_position=until_position)

    def _stored_corrections(self, period: str) -> dict[str, list[Line]]:
        return {
            rep: [_line(x) for x in load(lines)]
            for rep, lines in self.tx.all(
                f"SELECT rep_id, lines FROM {self.t['corrections']} WHERE period = ?", (period,)
            )
        }

    # -- computing -------------------------------------------------------------------------------
    def month(
        self,
        period: Period,
        *,
        settle: bool,
        inputs: LedgerInputs | None = None,
        calculator: Calculator | None = None,
    ) -> tuple[LedgerInputs, dict[str, list[Line]], dict[str, list[dict[str, Any]]], dict[str, Decimal]]:
        """An open month's lines per rep (computed, manual and the corrections due in it) and what
        its refunds did not claw back, from the month's own inputs (or `inputs` holding more, with
        a `calculator` shared by several months); `settle` adds the bonuses settled at close."""
        inputs = inputs or self.inputs([period.label])
        calculator = calculator or Calculator(inputs)
        lines = base_lines(inputs, self.book, period, settle=settle, calculator=calculator)
        for rep, extra in self._stored_corrections(period.label).items():
            lines[rep].extend(extra)
        balances = draw_lines(inputs, period, lines)
        notes: dict[str, list[dict[str, Any]]] = {}
        for (label, rep), said in calculator.notes.items():
            if label == period.label:
                notes.setdefault(rep, []).extend(said)
        return inputs, lines, notes, balances

    def open_statements(
        self, period: Period, inputs: LedgerInputs | None = None, calculator: Calculator | None = None
    ) -> dict[str, dict[str, Any]]:
        """Every rep's live statement of an open month: reps with lines or notes, and reps on a plan."""
        inputs, lines, notes, balances = self.month(period, settle=False, inputs=inputs, calculator=calculator)
        reps = set(lines) | set(notes) | {rep for rep in inputs.reps() if inputs.plan_for(rep, period.end)}
        out = {}
        for rep in sorted(reps):
            statement = render(rep, period.label, inputs.currency(rep, period), "open", lines.get(rep, []))
            statement["lines"] = [frozen(line) for line in sorted(lines.get(rep, []), key=lambda x: x.id)]
            attach_notes(statement, notes.get(rep, []))
            if rep in balances:
                statement["draw_balance"] = balances[rep]
            out[rep] = statement
        return out

    def settle(self) -> None:
        """Recompute the marked months: the corrections of closed months changed since their
        close (`late`) into the first open month after them, then every marked open month."""
        rows = self.tx.all(f"SELECT period, dirty, late FROM {self.t['months']} WHERE dirty = 1 OR late >= 1")
        closed = self.closed()
        dirty = {p for p, d, _ in rows if d and p not in closed}
        pending = {p for p, _, late in rows if late == 1 and p in closed}
        if not dirty and not pending:
            return
        late = {p for p, _, lt in rows if lt and p in closed}
        plans = self.inputs([])
        if plans.uses_spans() or plans.uses_draws():  # a month changes later months (its year; a draw's balance)
            for label in sorted(dirty | pending):
                for later in self.months():
                    if later <= label or (later[:4] != label[:4] and not plans.uses_draws()):
                        continue
                    if later in closed:
                        pending.add(later)
                        late.add(later)
                    else:
                        dirty.add(later)
        # refunds reverse what their deals earned: a changed month changes the months of their refunds
        for label in sorted(dirty | pending):
            for (refund_month,) in self.tx.all(self._refund_months_sql(), self._refund_months_params(label)):
                if refund_month in closed:
                    pending.add(refund_month)
                    late.add(refund_month)
                else:
                    dirty.add(refund_month)
        for due in sorted({self._first_open_after(label, closed) for label in pending}):
            self._recompute_corrections(due, {x for x in late if self._first_open_after(x, closed) == due}, closed)
            dirty.add(due)
        # several months (a rebuild, a backlog, a rate or plan change) share one load of their
        # money and one calculator: a month's earned lines are computed once, also where later
        # months' clawbacks look them up; in order, so that what only settled months needed is let go
        shared = self.inputs(dirty) if len(dirty) > 1 else None
        calculator = Calculator(shared) if shared is not None else None
        for label in sorted(dirty):
            self._store(Period.parse(label), self.open_statements(Period.parse(label), shared, calculator))
            if calculator is not None:
                calculator.release(Period.parse(label))
        self.tx.execute(f"UPDATE {self.t['months']} SET dirty = 0 WHERE dirty = 1")
        marks = sorted(pending)
        for i in range(0, len(marks), 500):
            part = marks[i : i + 500]
            self.tx.execute(
                f"UPDATE {self.t['months']} SET late = 2 WHERE period IN ({', '.join('?' * len(part))})", part
            )

    def _refund_months_sql(self) -> str:
        w, m = self.t["wins"], self.t["moves"]
        return (
            f"SELECT DISTINCT substr(r.day, 1, 7) FROM {m} r WHERE r.kind <> 'payment' AND r.deal_id IN "
            f"(SELECT deal_id FROM {w} WHERE signed_on >= ? AND signed_on < ? "
            f"UNION SELECT deal_id FROM {m} WHERE kind = 'payment' AND day >= ? AND day < ?)"
        )

    @staticmethod
    def _refund_months_params(label: str) -> tuple[str, ...]:
        start, end = Period.parse(label).start.isoformat(), _next(label) + "-01"
        return start, end, start, end

    @staticmethod
    def _first_open_after(label: str, closed: dict[str, int]) -> str:
        cursor = _next(label)
        while cursor in closed:
            cursor = _next(cursor)
        return cursor

    def _recompute_corrections(self, due: str, months: set[str], closed: dict[str, int]) -> None:
        """The corrections due in `due` for the closed months changed since their close; the
        others are as they were frozen, so they owe nothing."""
        inputs = self.inputs(months)
        found = corrections(inputs, self.book, Period.parse(due), closed, Calculator(inputs), only=months)
        self.tx.execute(f"DELETE FROM {self.t['corrections']} WHERE period = ?", (due,))
        self.tx.executemany(
            f"INSERT INTO {self.t['corrections']} (key, period, rep_id, lines) VALUES (?, ?, ?, ?)",
            [
                (statement_key(due, rep), due, rep, dump([frozen(line) for line in lines]))
                for rep, lines in sorted(found.items())
            ],
        )

    def _store(self, period: Period, statements: dict[str, dict[str, Any]]) -> None:
        label = period.label
        # a month computed for what it owes (corrections due in it) is known from now on, so that a
        # plan, an assignment or an org change dated in it marks it like any month with activity
        self.tx.execute(
            f"INSERT INTO {self.t['months']} (period, dirty, late) VALUES (?, 0, 0) ON CONFLICT (period) DO NOTHING",
            (label,),
        )
        self.tx.execute(f"DELETE FROM {self.t['statements']} WHERE period = ? AND status = 'open'", (label,))
        rows = [statement_row(rep, s) for rep, s in sorted(statements.items())]
        self.tx.executemany(
            f"INSERT INTO {self.t['statements']} ({', '.join(STATEMENT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [tuple(row[c] for c in STATEMENT_COLUMNS) for row in rows],
        )


def _line(kept: dict[str, Any]) -> Line:
    """A stored line back as a Line."""
    return Line(
        kept.get("rep_id") or kept["id"].split("~")[1],
        kept["id"].split("~")[0],
        kept["kind"],
        kept["component"],
        kept["deal_id"],
        kept["basis_amount"],
        kept["amount"],
        kept["plan_id"],
        kept["plan_version"],
        kept["key"],
        kept["explain"],
    )


# -- queries -----------------------------------------------------------------------------------------
READ_MODELS = ("commissions",)  # statements are computed from the ledger alone
