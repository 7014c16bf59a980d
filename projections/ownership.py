"""What a rep still owns: the work that must be handed over before they leave."""

from __future__ import annotations

from datetime import date

from infrastructure.database import Tx
from projections.engine.tracking import active_tables
from projections.kpi import KPI
from projections.org import OrgHistory


def open_work(tx: Tx, rep_id: str) -> dict[str, list[str]]:
    """Customers the rep owns now and reps who report to them now (active ones)."""
    t = active_tables(tx, KPI)
    customers = [
        c
        for (c,) in tx.all(
            f"SELECT customer_id FROM {t['customers']} WHERE owner_id = ? ORDER BY customer_id", (rep_id,)
        )
    ]
    org = OrgHistory(tx)
    reports = sorted(
        rep
        for rep in org.timelines
        if (attrs := org.attrs(rep, date.max)) and attrs["manager_id"] == rep_id and attrs["status"] == "active"
    )
    return {"customers": customers, "reports": reports}
