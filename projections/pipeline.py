"""The pipeline board: open deals per stage with count, amount and probability-weighted
amount, and totals for won and lost deals; filterable by the owner's team and region,
the owner and the product line."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from domain.deal import Deal
from domain.rep import Rep
from domain.values import DEFAULT_CURRENCY, DEFAULT_STAGE_PROBABILITIES, OPEN_STAGES
from projections.database import Tx
from projections.money import from_cents, to_cents
from projections.projection import Projection, Recorded, Rows
from projections.tracking import active_tables

DEAL_COLUMNS = ("deal_id", "owner_id", "product_line", "currency", "status", "stage", "amount_cents",
                "weighted_cents", "signed_cents", "margin_cents", "refunded_cents", "last_position")
REP_COLUMNS = ("rep_id", "name", "team", "region")


def weighted_cents(amount_cents: int, stage: str) -> int:
    return to_cents(Decimal(amount_cents) / 100 * DEFAULT_STAGE_PROBABILITIES[stage])


class PipelineProjection(Projection):
    name = "pipeline"
    version = 1
    events = (Rep.Hired, Deal.Opened, Deal.StageChanged, Deal.Won, Deal.Lost, Deal.Refunded)
    tables = {
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
                deal_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_line TEXT NOT NULL,
                currency TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL,
                amount_cents BIGINT NOT NULL, weighted_cents BIGINT NOT NULL, signed_cents BIGINT NOT NULL,
                margin_cents BIGINT NOT NULL, refunded_cents BIGINT NOT NULL, last_position BIGINT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {deals}_owner ON {deals} (owner_id)",
        ],
        "reps": [
            """CREATE TABLE IF NOT EXISTS {reps} (
                rep_id TEXT PRIMARY KEY, name TEXT NOT NULL, team TEXT NOT NULL, region TEXT NOT NULL)""",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type.startswith("Deal") and r.type != "DealOpened")
        return {"deals": deals, "reps": Rows(tx, tables["reps"], "rep_id", REP_COLUMNS)}

    def commit(self, tx: Tx, tables: dict[str, str], state: dict[str, Rows]) -> None:
        for rows in state.values():
            rows.flush()

    def on_RepHired(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        s["reps"].put({"rep_id": r.aggregate_id, "name": e.name, "team": e.team, "region": e.region})

    def on_DealOpened(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        amount = to_cents(e.amount)
        s["deals"].put({
            "deal_id": r.aggregate_id, "owner_id": e.owner_id, "product_line": e.product_line,
            "currency": e.currency, "status": "open", "stage": OPEN_STAGES[0], "amount_cents": amount,
            "weighted_cents": weighted_cents(amount, OPEN_STAGES[0]), "signed_cents": 0, "margin_cents": 0,
            "refunded_cents": 0, "last_position": r.position,
        })

    def on_DealStageChanged(self, s: dict[str, Rows], r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is not None:
            s["deals"].update(r.aggregate_id, stage=r.event.to_stage, last_position=r.position,
                              weighted_cents=weighted_cents(deal["amount_cents"], r.event.to_stage))

    def on_DealWon(self, s: dict[str, Rows], r: Recorded) -> None:
        s["deals"].update(r.aggregate_id, status="won", weighted_cents=0, last_position=r.position,
                          signed_cents=to_cents(r.event.amount), margin_cents=to_cents(r.event.gross_margin))

    def on_DealLost(self, s: dict[str, Rows], r: Recorded) -> None:
        s["deals"].update(r.aggregate_id, status="lost", weighted_cents=0, last_position=r.position)

    def on_DealRefunded(self, s: dict[str, Rows], r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is not None:
            s["deals"].update(r.aggregate_id, refunded_cents=deal["refunded_cents"] + to_cents(r.event.amount),
                              last_position=r.position)


PIPELINE = PipelineProjection()

FILTERS = {"team": "r.team", "region": "r.region", "owner_id": "d.owner_id", "product_line": "d.product_line"}


def pipeline_board(tx: Tx, *, currency: str = DEFAULT_CURRENCY, **filters: str | None) -> dict[str, Any]:
    t = active_tables(tx, PIPELINE)
    where, params = ["d.currency = ?"], [currency]
    for key, column in FILTERS.items():
        if filters.get(key) is not None:
            where.append(f"{column} = ?")
            params.append(filters[key])
    rows = tx.all(
        f"SELECT d.status, d.stage, COUNT(*), SUM(d.amount_cents), SUM(d.weighted_cents), "
        f"SUM(d.signed_cents), SUM(d.margin_cents), SUM(d.refunded_cents) "
        f"FROM {t['deals']} d LEFT JOIN {t['reps']} r ON r.rep_id = d.owner_id "
        f"WHERE {' AND '.join(where)} GROUP BY d.status, d.stage", params)
    open_by_stage = {stage: (0, 0, 0) for stage in OPEN_STAGES}
    won = [0, 0, 0, 0]
    lost = [0, 0]
    for status, stage, count, amount, weighted, signed, margin, refunded in rows:
        if status == "open":
            open_by_stage[stage] = (count, amount, weighted)
        elif status == "won":
            won = [won[0] + count, won[1] + signed, won[2] + margin, won[3] + refunded]
        else:
            lost = [lost[0] + count, lost[1] + amount]
    stages = [{"stage": stage, "count": c, "amount": from_cents(a), "weighted_amount": from_cents(w),
               "probability": DEFAULT_STAGE_PROBABILITIES[stage]}
              for stage, (c, a, w) in open_by_stage.items()]
    return {
        "currency": currency,
        "filters": {k: v for k, v in filters.items() if v is not None},
        "stages": stages,
        "open": {"count": sum(s["count"] for s in stages),
                 "amount": sum((s["amount"] for s in stages), Decimal("0.00")),
                 "weighted_amount": sum((s["weighted_amount"] for s in stages), Decimal("0.00"))},
        "won": {"count": won[0], "amount": from_cents(won[1]), "gross_margin": from_cents(won[2]),
                "refunded": from_cents(won[3]), "net_amount": from_cents(won[1] - won[3])},
        "lost": {"count": lost[0], "amount": from_cents(lost[1])},
    }
