"""The pipeline board: open deals per stage (count, amount, probability-weighted amount),
won and lost totals, stage conversion, stage velocity, win rate, loss reasons and the weighted
forecast by expected close month — filterable by the owner's team and region, the owner, the
product line and the period in which deals were opened."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.deal import Deal
from domain.values import DEFAULT_CURRENCY, DEFAULT_STAGE_PROBABILITIES, OPEN_STAGES, Period
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables
from projections.money import fraction, from_cents, to_cents
from projections.org import OrgHistory

DEAL_COLUMNS = (
    "deal_id",
    "owner_id",
    "product_line",
    "currency",
    "status",
    "stage",
    "probability",
    "amount_cents",
    "weighted_cents",
    "signed_cents",
    "margin_cents",
    "refunded_cents",
    "opened_on",
    "expected_close",
    "max_stage",
    "lost_reason",
    "last_position",
    "closed_on",
)
STEP_COLUMNS = ("position", "deal_id", "from_stage", "to_stage", "on_day")


def weighted_cents(amount_cents: int, probability: Decimal) -> int:
    return to_cents(Decimal(amount_cents) / 100 * probability)


def _probability(event: Any, stage: str) -> Decimal:
    """The probability the event applied (older events did not carry one: the default then)."""
    value = getattr(event, "probability", None)
    return DEFAULT_STAGE_PROBABILITIES[stage] if value is None else Decimal(value)


class PipelineProjection(Projection):
    name = "pipeline"
    version = 3
    tables = {
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
                deal_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_line TEXT NOT NULL,
                currency TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL, probability TEXT NOT NULL,
                amount_cents BIGINT NOT NULL, weighted_cents BIGINT NOT NULL, signed_cents BIGINT NOT NULL,
                margin_cents BIGINT NOT NULL, refunded_cents BIGINT NOT NULL, opened_on TEXT NOT NULL,
                expected_close TEXT, max_stage INTEGER NOT NULL, lost_reason TEXT, last_position BIGINT NOT NULL,
                closed_on TEXT)""",
            "CREATE INDEX IF NOT EXISTS {deals}_owner ON {deals} (owner_id)",
        ],
        "steps": [
            """CREATE TABLE IF NOT EXISTS {steps} (
                position BIGINT PRIMARY KEY, deal_id TEXT NOT NULL, from_stage TEXT, to_stage TEXT NOT NULL,
                on_day TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {steps}_deal ON {steps} (deal_id)",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type.startswith("Deal") and r.type != "DealOpened")
        return {
            "deals": deals,
            "steps": Rows(tx, tables["steps"], "position", STEP_COLUMNS),
        }

    def _step(self, s, r: Recorded, from_stage: str | None, to_stage: str, day: date) -> None:
        s["steps"].put(
            {
                "position": r.position,
                "deal_id": r.aggregate_id,
                "from_stage": from_stage,
                "to_stage": to_stage,
                "on_day": day.isoformat(),
            }
        )

    @handles(Deal.Opened)
    def deal_opened(self, s, r: Recorded) -> None:
        e, stage = r.event, OPEN_STAGES[0]
        amount, probability = to_cents(e.amount), _probability(r.event, stage)
        s["deals"].put(
            {
                "deal_id": r.aggregate_id,
                "owner_id": e.owner_id,
                "product_line": e.product_line,
                "currency": e.currency,
                "status": "open",
                "stage": stage,
                "probability": str(probability),
                "amount_cents": amount,
                "weighted_cents": weighted_cents(amount, probability),
                "signed_cents": 0,
                "margin_cents": 0,
                "refunded_cents": 0,
                "opened_on": e.opened_on.isoformat(),
                "expected_close": e.expected_close.isoformat() if e.expected_close else None,
                "max_stage": 0,
                "lost_reason": None,
                "last_position": r.position,
                "closed_on": None,
            }
        )
        self._step(s, r, None, stage, e.opened_on)

    @handles(Deal.StageChanged)
    def deal_stage_changed(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        e = r.event
        probability = _probability(e, e.to_stage)
        s["deals"].update(
            r.aggregate_id,
            stage=e.to_stage,
            probability=str(probability),
            last_position=r.position,
            weighted_cents=weighted_cents(deal["amount_cents"], probability),
            max_stage=max(deal["max_stage"], OPEN_STAGES.index(e.to_stage)),
        )
        self._step(
            s, r, e.from_stage, e.to_stage, getattr(e, "changed_on", None) or date.fromisoformat(deal["opened_on"])
        )

    @handles(Deal.Revised)
    def deal_revised(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        e = r.event
        amount = to_cents(e.to_amount)
        s["deals"].update(
            r.aggregate_id,
            amount_cents=amount,
            last_position=r.position,
            expected_close=e.to_expected_close.isoformat() if e.to_expected_close else None,
            weighted_cents=weighted_cents(amount, Decimal(deal["probability"])) if deal["status"] == "open" else 0,
        )

    @handles(Deal.Won)
    def deal_won(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        s["deals"].update(
            r.aggregate_id,
            status="won",
            weighted_cents=0,
            last_position=r.position,
            signed_cents=to_cents(r.event.amount),
            margin_cents=to_cents(r.event.gross_margin),
            closed_on=r.event.signed_on.isoformat(),
        )
        self._step(s, r, deal["stage"], "won", r.event.signed_on)

    @handles(Deal.Lost)
    def deal_lost(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        s["deals"].update(
            r.aggregate_id,
            status="lost",
            weighted_cents=0,
            last_position=r.position,
            lost_reason=getattr(r.event, "reason_code", None) or r.event.reason,
        )
        lost_on = getattr(r.event, "lost_on", None)
        if lost_on:
            s["deals"].update(r.aggregate_id, closed_on=lost_on.isoformat())
        if lost_on:
            self._step(s, r, deal["stage"], "lost", lost_on)

    @handles(Deal.Refunded)
    def deal_refunded(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is not None:
            s["deals"].update(
                r.aggregate_id,
                refunded_cents=deal["refunded_cents"] + to_cents(r.event.amount),
                last_position=r.position,
            )


PIPELINE = PipelineProjection()

FILTERS = {"owner_id": "owner_id", "product_line": "product_line"}
ORG_FILTERS = ("team", "region")  # answered from the org timeline, as of each deal's date


def _days(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean_days": None, "median_days": None}
    mean = (Decimal(sum(values)) / len(values)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    median = Decimal(str(statistics.median(values))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {"count": len(values), "mean_days": mean, "median_days": median}


def pipeline_board(
    tx: Tx,
    *,
    currency: str = DEFAULT_CURRENCY,
    period: Period | None = None,
    owners: Collection[str] | None = None,
    as_of: date,
    **filters: str | None,
) -> dict[str, Any]:
    """The board over the deals matching `filters` (and owned by one of `owners`, when given).

    `team` and `region` are the owner's on each deal's own date, from the org timeline: the
    signing date of a won deal, the loss date of a lost one, `as_of` for a deal still open. A rep
    who moved teams leaves their open deals with the new team and their past wins with the old."""
    t = active_tables(tx, PIPELINE)
    where, params = ["currency = ?"], [currency]
    for key, column in FILTERS.items():
        if filters.get(key) is not None:
            where.append(f"{column} = ?")
            params.append(filters[key])
    if period is not None:
        where.append("opened_on >= ? AND opened_on <= ?")
        params += [period.start.isoformat(), period.end.isoformat()]
    deals = [
        dict(zip(DEAL_COLUMNS, row, strict=True))
        for row in tx.all(f"SELECT {', '.join(DEAL_COLUMNS)} FROM {t['deals']} WHERE {' AND '.join(where)}", params)
    ]
    if owners is not None:
        deals = [d for d in deals if d["owner_id"] in owners]
    scopes = [f"{key}:{filters[key]}" for key in ORG_FILTERS if filters.get(key) is not None]
    if scopes:
        org = OrgHistory(tx)
        deals = [d for d in deals if all(org.in_scope(d["owner_id"], _deal_day(d, as_of), s) for s in scopes)]

    open_by_stage = {stage: [0, 0, 0] for stage in OPEN_STAGES}
    won, lost = [0, 0, 0, 0], [0, 0]
    reasons: Counter[str] = Counter()
    forecast: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for d in deals:
        if d["status"] == "open":
            bucket = open_by_stage[d["stage"]]
            bucket[0] += 1
            bucket[1] += d["amount_cents"]
            bucket[2] += d["weighted_cents"]
            month = (d["expected_close"] or "")[:7] or "unscheduled"
            forecast[month][0] += 1
            forecast[month][1] += d["amount_cents"]
            forecast[month][2] += d["weighted_cents"]
        elif d["status"] == "won":
            won = [won[0] + 1, won[1] + d["signed_cents"], won[2] + d["margin_cents"], won[3] + d["refunded_cents"]]
        else:
            lost = [lost[0] + 1, lost[1] + d["amount_cents"]]
            reasons[d["lost_reason"] or "unspecified"] += 1

    stages = [
        {
            "stage": stage,
            "count": c,
            "amount": from_cents(a),
            "weighted_amount": from_cents(w),
            "probability": DEFAULT_STAGE_PROBABILITIES[stage],
        }
        for stage, (c, a, w) in open_by_stage.items()
    ]
    return {
        "currency": currency,
        "period": period.label if period else None,
        "filters": {k: v for k, v in filters.items() if v is not None},
        "stages": stages,
        "open": {
            "count": sum(s["count"] for s in stages),
            "amount": sum((s["amount"] for s in stages), Decimal("0.00")),
            "weighted_amount": sum((s["weighted_amount"] for s in stages), Decimal("0.00")),
        },
        "won": {
            "count": won[0],
            "amount": from_cents(won[1]),
            "gross_margin": from_cents(won[2]),
            "refunded": from_cents(won[3]),
            "net_amount": from_cents(won[1] - won[3]),
        },
        "lost": {"count": lost[0], "amount": from_cents(lost[1])},
        "win_rate": fraction(won[0], won[0] + lost[0]),
        "loss_reasons": [
            {"reason": reason, "count": n, "share": fraction(n, lost[0])}
            for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "conversion": _conversion(deals),
        "velocity": _velocity(tx, t, [d["deal_id"] for d in deals]),
        "forecast": [
            {"month": month, "count": c, "amount": from_cents(a), "weighted_amount": from_cents(w)}
            for month, (c, a, w) in sorted(forecast.items())
        ],
    }


def _deal_day(deal: dict[str, Any], as_of: date) -> date:
    """The business date on which a deal's owner is placed in the organisation."""
    closed = deal["closed_on"] if deal["status"] != "open" else None
    return date.fromisoformat(closed) if closed else as_of


def _conversion(deals: list[dict]) -> list[dict[str, Any]]:
    """Of the deals that reached a stage, the share that reached the next one (won counts as
    having passed every stage)."""
    reached = [sum(1 for d in deals if d["status"] == "won" or d["max_stage"] >= i) for i in range(len(OPEN_STAGES))]
    won = sum(1 for d in deals if d["status"] == "won")
    steps = [*OPEN_STAGES, "won"]
    counts = [*reached, won]
    return [
        {
            "from": steps[i],
            "to": steps[i + 1],
            "reached_from": counts[i],
            "reached_to": counts[i + 1],
            "rate": fraction(counts[i + 1], counts[i]),
        }
        for i in range(len(OPEN_STAGES))
    ]


def _velocity(tx: Tx, t: dict[str, str], deal_ids: list[str]) -> list[dict[str, Any]]:
    """Days spent in each stage, over every completed stay (moving back starts a new stay)."""
    wanted = set(deal_ids)
    stays: dict[str, list[int]] = {stage: [] for stage in OPEN_STAGES}
    by_deal: dict[str, list[tuple]] = defaultdict(list)
    for _position, deal_id, _, to_stage, on_day in tx.all(
        f"SELECT position, deal_id, from_stage, to_stage, on_day FROM {t['steps']} ORDER BY deal_id, position"
    ):
        if deal_id in wanted:
            by_deal[deal_id].append((to_stage, date.fromisoformat(on_day)))
    for steps in by_deal.values():
        for (stage, entered), (_, left) in itertools.pairwise(steps):
            if stage in stays:
                stays[stage].append((left - entered).days)
    return [{"stage": stage, **_days(values)} for stage, values in stays.items()]
