"""Deliveries read model (交付): the milestones of won deals with their planned and done dates,
behind `GET /deliveries` (overdue, open, done; per owner or a manager's subtree) and the delivery
status on Customer 360. Overdue is decided at query time against the organisation's today."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from domain.deal import Deal
from domain.errors import InvalidInput
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables

DEAL_COLUMNS = ("deal_id", "customer_id", "owner_id", "title")
MILESTONE_COLUMNS = ("k", "deal_id", "customer_id", "owner_id", "title", "name", "planned_on", "done_on", "position")
STATUSES = ("overdue", "open", "done")


class DeliveriesProjection(Projection):
    name = "deliveries"
    version = 1
    tables = {
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
            deal_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, owner_id TEXT NOT NULL, title TEXT)"""
        ],
        "milestones": [
            """CREATE TABLE IF NOT EXISTS {milestones} (
            k TEXT PRIMARY KEY, deal_id TEXT NOT NULL, customer_id TEXT NOT NULL, owner_id TEXT NOT NULL,
            title TEXT, name TEXT NOT NULL, planned_on TEXT NOT NULL, done_on TEXT, position BIGINT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {milestones}_planned ON {milestones} (done_on, planned_on)",
            "CREATE INDEX IF NOT EXISTS {milestones}_customer ON {milestones} (customer_id)",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type in ("DealDeliveryPlanned", "DealMilestoneDone"))
        milestones = Rows(tx, tables["milestones"], "k", MILESTONE_COLUMNS)
        milestones.load(f"{r.aggregate_id}|{r.event.name}" for r in batch if r.type == "DealMilestoneDone")
        return {"deals": deals, "milestones": milestones}

    @handles(Deal.Opened)
    def opened(self, s, r: Recorded) -> None:
        e = r.event
        s["deals"].put(
            {"deal_id": r.aggregate_id, "customer_id": e.customer_id, "owner_id": e.owner_id, "title": e.title}
        )

    @handles(Deal.DeliveryPlanned)
    def planned(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        for m in r.event.milestones:
            key = f"{r.aggregate_id}|{m['name']}"
            known = s["milestones"].get(key)
            if known is not None:
                s["milestones"].update(key, planned_on=m["planned_on"].isoformat())
                continue
            s["milestones"].put(
                {
                    "k": key,
                    **deal,
                    "name": m["name"],
                    "planned_on": m["planned_on"].isoformat(),
                    "done_on": None,
                    "position": r.position,
                }
            )

    @handles(Deal.MilestoneDone)
    def done(self, s, r: Recorded) -> None:
        s["milestones"].update(f"{r.aggregate_id}|{r.event.name}", done_on=r.event.on.isoformat())


DELIVERIES = DeliveriesProjection()


def _view(row: dict[str, Any], today: date) -> dict[str, Any]:
    planned = date.fromisoformat(row["planned_on"])
    overdue = row["done_on"] is None and planned < today
    return {
        "deal_id": row["deal_id"],
        "customer_id": row["customer_id"],
        "owner_id": row["owner_id"],
        "title": row["title"],
        "name": row["name"],
        "planned_on": row["planned_on"],
        "done_on": row["done_on"],
        "status": "done" if row["done_on"] else "overdue" if overdue else "open",
        "days_overdue": (today - planned).days if overdue else 0,
        "on_time": None if row["done_on"] is None else row["done_on"] <= row["planned_on"],
    }


def list_deliveries(
    tx: Tx,
    *,
    today: date,
    status: str | None = None,
    owner_id: str | None = None,
    owners: Collection[str] | None = None,
    customer_id: str | None = None,
    deal_id: str | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """Milestones by planned date: `overdue` (planned before `today`, not done), `open` (not done,
    planned today or later) or `done`; with `owners`, only those reps' deals."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(STATUSES)}", field="status")
    t = active_tables(tx, DELIVERIES)
    where: list[str] = []
    params: list[Any] = []
    if status == "done":
        where.append("done_on IS NOT NULL")
    elif status in ("open", "overdue"):
        where += ["done_on IS NULL", "planned_on < ?" if status == "overdue" else "planned_on >= ?"]
        params.append(today.isoformat())
    for column, value in (("owner_id", owner_id), ("customer_id", customer_id), ("deal_id", deal_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if owners is not None:
        chosen = sorted(owners)
        where.append(f"owner_id IN ({', '.join('?' * len(chosen))})" if chosen else "1 = 0")
        params += chosen
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = tx.all(
        f"SELECT {', '.join(MILESTONE_COLUMNS)} FROM {t['milestones']} {clause} "
        f"ORDER BY planned_on, deal_id, name LIMIT ?",
        [*params, limit + 1],
    )
    items = [_view(dict(zip(MILESTONE_COLUMNS, row, strict=True)), today) for row in rows]
    return {"as_of": today, "status": status, "items": items[:limit], "truncated": len(items) > limit}


def customer_delivery(tx: Tx, customer_id: str, today: date) -> dict[str, Any]:
    """The delivery status of a customer's won deals (for Customer 360)."""
    milestones = list_deliveries(tx, today=today, customer_id=customer_id)["items"]
    counts = {s: sum(1 for m in milestones if m["status"] == s) for s in STATUSES}
    status = (
        "none"
        if not milestones
        else "overdue"
        if counts["overdue"]
        else "in_progress"
        if counts["open"]
        else "delivered"
    )
    upcoming = next((m for m in milestones if m["status"] != "done"), None)
    return {"status": status, **counts, "next_milestone": upcoming, "milestones": milestones}
