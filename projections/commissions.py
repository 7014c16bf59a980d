"""Commission inputs as a read model, and the statement service built on them: live
statements for open months, frozen ones for closed months, corrections of closed months in the
next open one, close, explain, verify and simulate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from domain.commission.calc import Money, Source, Win
from domain.commission.period import CommissionPeriod
from domain.commission.plan import Plan, validate_plan
from domain.deal import Deal, dump_splits, load_splits
from domain.rep import Rep
from domain.values import Period
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_position, active_tables
from projections.kpi import utc_text
from projections.money import from_cents, to_cents
from projections.org import OrgHistory
from projections.targets import targets_in_force

WIN_COLUMNS = ("deal_id", "position", "signed_on", "amount_cents", "margin_cents", "currency", "splits", "source")
DEAL_COLUMNS = ("deal_id", "currency", "splits")
MOVE_COLUMNS = ("position", "deal_id", "day", "amount_cents", "kind", "source")
PLAN_COLUMNS = ("plan_key", "position", "plan_id", "version", "body")
ASSIGN_COLUMNS = ("position", "rep_id", "plan_id", "effective_from")
CLOSED_COLUMNS = ("period", "position", "as_of_position")


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


class CommissionsProjection(Projection):
    name = "commissions"
    version = 2  # 2: splits stored in the contract's shape, [{"rep_id", "share"}]
    tables = {
        "deals": [
            "CREATE TABLE IF NOT EXISTS {deals} (deal_id TEXT PRIMARY KEY, currency TEXT NOT NULL, "
            "splits TEXT NOT NULL)"
        ],
        "wins": [
            """CREATE TABLE IF NOT EXISTS {wins} (deal_id TEXT PRIMARY KEY, position BIGINT NOT NULL,
                    signed_on TEXT NOT NULL, amount_cents BIGINT NOT NULL, margin_cents BIGINT NOT NULL,
                    currency TEXT NOT NULL, splits TEXT NOT NULL, source TEXT NOT NULL)"""
        ],
        "moves": [
            """CREATE TABLE IF NOT EXISTS {moves} (position BIGINT PRIMARY KEY, deal_id TEXT NOT NULL,
                     day TEXT NOT NULL, amount_cents BIGINT NOT NULL, kind TEXT NOT NULL, source TEXT NOT NULL)"""
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
                      as_of_position BIGINT NOT NULL)"""
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type in ("DealSplitsSet", "DealWon"))
        wins = Rows(tx, tables["wins"], "deal_id", WIN_COLUMNS)
        return {
            "deals": deals,
            "wins": wins,
            "moves": Rows(tx, tables["moves"], "position", MOVE_COLUMNS),
            "plans": Rows(tx, tables["plans"], "plan_key", PLAN_COLUMNS),
            "assignments": Rows(tx, tables["assignments"], "position", ASSIGN_COLUMNS),
            "closed": Rows(tx, tables["closed"], "period", CLOSED_COLUMNS),
        }

    @handles(Deal.Opened)
    def deal_opened(self, s, r: Recorded) -> None:
        s["deals"].put(
            {
                "deal_id": r.aggregate_id,
                "currency": r.event.currency,
                "splits": dump_splits([{"rep_id": r.event.owner_id, "share": "1"}]),
            }
        )

    @handles(Deal.SplitsSet)
    def deal_splits_set(self, s, r: Recorded) -> None:
        s["deals"].update(r.aggregate_id, splits=dump_splits(r.event.splits))

    @handles(Deal.Won)
    def deal_won(self, s, r: Recorded) -> None:
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
            }
        )

    @handles(Deal.PaymentReceived)
    def deal_payment_received(self, s, r: Recorded) -> None:
        s["moves"].put(
            {
                "position": r.position,
                "deal_id": r.aggregate_id,
                "day": r.event.received_on.isoformat(),
                "amount_cents": to_cents(r.event.amount),
                "kind": "payment",
                "source": _source(r),
            }
        )

    @handles(Deal.Refunded)
    def deal_refunded(self, s, r: Recorded) -> None:
        s["moves"].put(
            {
                "position": r.position,
                "deal_id": r.aggregate_id,
                "day": r.event.refunded_on.isoformat(),
                "amount_cents": to_cents(r.event.amount),
                "kind": getattr(r.event, "kind", "refund"),
                "source": _source(r),
            }
        )

    @handles(Plan.Created)
    def plan_created(self, s, r: Recorded) -> None:
        s["plans"].put(
            {
                "plan_key": f"{r.aggregate_id}|1",
                "position": r.position,
                "plan_id": r.aggregate_id,
                "version": 1,
                "body": _plan_body(r.event.body),
            }
        )

    @handles(Plan.Versioned)
    def plan_versioned(self, s, r: Recorded) -> None:
        s["plans"].put(
            {
                "plan_key": f"{r.aggregate_id}|{r.event.version}",
                "position": r.position,
                "plan_id": r.aggregate_id,
                "version": r.event.version,
                "body": _plan_body(r.event.body),
            }
        )

    @handles(Rep.PlanAssigned)
    def rep_plan_assigned(self, s, r: Recorded) -> None:
        s["assignments"].put(
            {
                "position": r.position,
                "rep_id": r.aggregate_id,
                "plan_id": r.event.plan_id,
                "effective_from": r.event.effective_from.isoformat(),
            }
        )

    @handles(CommissionPeriod.Closed)
    def commission_period_closed(self, s, r: Recorded) -> None:
        s["closed"].put({"period": r.event.period, "position": r.position, "as_of_position": r.event.as_of_position})


COMMISSIONS = CommissionsProjection()


# -- inputs -----------------------------------------------------------------------------------------
class StoreInputs:
    """The calculator's inputs, read from the commissions read model (optionally as they were at
    a store position), the organisation and the revenue targets."""

    def __init__(self, tx: Tx, until_position: int | None = None) -> None:
        t = active_tables(tx, COMMISSIONS)
        limit = until_position or 2**62
        self.until_position = until_position
        self.wins: dict[str, Win] = {}
        for deal_id, _, signed_on, amount, margin, currency, splits, source in tx.all(
            f"SELECT {', '.join(WIN_COLUMNS)} FROM {t['wins']} WHERE position <= ?", (limit,)
        ):
            self.wins[deal_id] = Win(
                deal_id,
                date.fromisoformat(signed_on),
                from_cents(amount),
                from_cents(margin),
                currency,
                tuple((split["rep_id"], split["share"]) for split in load_splits(splits)),
                Source(**json.loads(source)),
            )
        self.movements = [
            Money(deal_id, date.fromisoformat(day), from_cents(amount), kind, Source(**json.loads(src)))
            for _, deal_id, day, amount, kind, src in tx.all(
                f"SELECT {', '.join(MOVE_COLUMNS)} FROM {t['moves']} WHERE position <= ? ORDER BY day, position",
                (limit,),
            )
        ]
        self.plans: dict[str, list[dict]] = {}
        for _, _, plan_id, version, body in tx.all(
            f"SELECT {', '.join(PLAN_COLUMNS)} FROM {t['plans']} WHERE position <= ? ORDER BY version", (limit,)
        ):
            parsed = json.loads(body)
            parsed["effective_from"] = date.fromisoformat(parsed["effective_from"])
            self.plans.setdefault(plan_id, []).append({"version": version, **parsed})
        self.assignments: dict[str, list[tuple[date, str]]] = {}
        for _, rep_id, plan_id, effective in tx.all(
            f"SELECT {', '.join(ASSIGN_COLUMNS)} FROM {t['assignments']} WHERE position <= ? ORDER BY position",
            (limit,),
        ):
            self.assignments.setdefault(rep_id, []).append((date.fromisoformat(effective), plan_id))
        self.targets = targets_in_force(tx, metric="revenue", until_position=limit)
        self.org = OrgHistory(tx, until_position)
        self.closed = {
            period: (position, as_of)
            for period, position, as_of in tx.all(
                f"SELECT {', '.join(CLOSED_COLUMNS)} FROM {t['closed']} WHERE position <= ?", (limit,)
            )
        }

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

    def target(self, scope: str, period: Period) -> Decimal | None:
        return self.targets.get(period, "revenue", scope)[0]

    def ancestors(self, rep_id: str, day: date) -> list[str]:
        return self.org.ancestors(rep_id, day)

    def team_of(self, rep_id: str, day: date) -> str | None:
        return (self.org.attrs(rep_id, day) or {}).get("team")

    def reps(self) -> list[str]:
        return sorted(self.org.timelines)

    def name(self, rep_id: str) -> str:
        return self.org.names.get(rep_id) or ""


class HypotheticalPlan(StoreInputs):
    """Real history under a plan that does not exist: every rep (or the chosen ones) on it."""

    def __init__(self, tx: Tx, body: dict, rep_ids: list[str] | None) -> None:
        super().__init__(tx)
        self.body = {"version": 1, **validate_plan(body)}
        self.only = set(rep_ids) if rep_ids else None

    def plan_for(self, rep_id: str, day: date) -> tuple[str, dict] | None:
        if self.only is not None and rep_id not in self.only:
            return None
        return ("simulation", self.body) if self.body["effective_from"] <= day else None


# -- queries -----------------------------------------------------------------------------------------
READ_MODELS = ("commissions", "org", "targets")  # what statements are computed from


def statement_inputs(tx: Tx, until_position: int | None = None) -> StoreInputs:
    """The calculator's inputs as of `until_position` (default: as far as every one of the
    READ_MODELS has processed the store)."""
    if until_position is None:
        until_position = min(active_position(tx, name) or 0 for name in READ_MODELS)
    return StoreInputs(tx, until_position)


def simulation_inputs(tx: Tx, plan: dict, rep_ids: list[str] | None = None) -> HypotheticalPlan:
    """Real history with every rep (or the chosen ones) on a plan that does not exist."""
    return HypotheticalPlan(tx, plan, rep_ids)
