"""How fast leads are first contacted: the median days from capture to first contact, per
source and month of capture. A worked example of a pluggable projection: registered under the
`salesledger.projections` entry point, backfilled with `salesledger projections backfill
first_contact_lag`, queried at `GET /metrics/first_contact_lag?period=2026`."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.lead import Lead
from domain.values import Period
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles

COLUMNS = ("lead_id", "source", "captured_on", "first_contact_on")


class FirstContactLag(Projection):
    name = "first_contact_lag"
    version = 1
    on_error = "park"  # not financial: a bad event is parked and the metric carries on
    tables = {
        "leads": [
            """CREATE TABLE IF NOT EXISTS {leads} (lead_id TEXT PRIMARY KEY, source TEXT NOT NULL,
                           captured_on TEXT NOT NULL, first_contact_on TEXT)"""
        ]
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> Rows:
        rows = Rows(tx, tables["leads"], "lead_id", COLUMNS)
        rows.load(r.aggregate_id for r in batch if r.type == "LeadContacted")
        return rows

    @handles(Lead.Captured)
    def lead_captured(self, rows: Rows, r: Recorded) -> None:
        rows.put(
            {
                "lead_id": r.aggregate_id,
                "source": r.event.source,
                "captured_on": r.event.captured_on.isoformat(),
                "first_contact_on": None,
            }
        )

    @handles(Lead.Contacted)
    def lead_contacted(self, rows: Rows, r: Recorded) -> None:
        lead = rows.get(r.aggregate_id)
        day = r.event.occurred_at.date().isoformat()
        if lead is not None and (lead["first_contact_on"] is None or day < lead["first_contact_on"]):
            rows.update(r.aggregate_id, first_contact_on=day)

    def query(self, tx: Tx, tables: dict[str, str], params: Mapping[str, str]) -> Any:
        """`period` (default: everything): per month of capture and source, leads captured,
        contacted, and the median days to first contact."""
        where, args = "", []
        if params.get("period"):
            period = Period.parse(params["period"])
            where, args = (
                "WHERE captured_on >= ? AND captured_on <= ?",
                [period.start.isoformat(), period.end.isoformat()],
            )
        groups: dict[tuple[str, str], list] = defaultdict(lambda: [0, []])
        for source, captured, contacted in tx.all(
            f"SELECT source, captured_on, first_contact_on FROM {tables['leads']} {where}", args
        ):
            group = groups[(captured[:7], source)]
            group[0] += 1
            if contacted:
                group[1].append((date.fromisoformat(contacted) - date.fromisoformat(captured)).days)
        return {
            "metric": self.name,
            "period": params.get("period"),
            "rows": [
                {
                    "month": month,
                    "source": source,
                    "captured": captured,
                    "contacted": len(days),
                    "median_days_to_first_contact": None
                    if not days
                    else Decimal(str(statistics.median(days))).quantize(Decimal("0.01"), ROUND_HALF_UP),
                }
                for (month, source), (captured, days) in sorted(groups.items())
            ],
        }
