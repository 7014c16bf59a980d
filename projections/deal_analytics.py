"""Deal analytics read model: how many proposals each deal took and the competitors in play
(from the negotiation picture, and the one named when a deal is lost). Behind the win rate by
proposal count (`GET /pipeline/proposals`) and the competitor report (`GET /competitors`): who we
meet most, and our win rate against each."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from domain.deal import Deal
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables
from projections.money import fraction

DEAL_COLUMNS = ("deal_id", "owner_id", "status", "proposals", "closed_on", "competitors")
COMPETITOR_COLUMNS = ("k", "deal_id", "owner_id", "competitor", "status", "in_play")


class DealAnalyticsProjection(Projection):
    name = "deal_analytics"
    version = 1
    tables = {
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
            deal_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, status TEXT NOT NULL, proposals INTEGER NOT NULL,
            closed_on TEXT, competitors TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {deals}_status ON {deals} (status, proposals)",
        ],
        "competitors": [
            """CREATE TABLE IF NOT EXISTS {competitors} (
            k TEXT PRIMARY KEY, deal_id TEXT NOT NULL, owner_id TEXT NOT NULL, competitor TEXT NOT NULL,
            status TEXT NOT NULL, in_play INTEGER NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {competitors}_name ON {competitors} (competitor)",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type.startswith("Deal") and r.type != "DealOpened")
        return {"deals": deals, "competitors": Rows(tx, tables["competitors"], "k", COMPETITOR_COLUMNS)}

    def _play(self, s, deal: dict[str, Any], names: list[str]) -> None:
        """Make `names` the competitors in play on the deal (those dropped stay, out of play)."""
        known = json.loads(deal["competitors"])
        for name in dict.fromkeys([*known, *names]):
            key = f"{deal['deal_id']}|{name}"
            s["competitors"].put(
                {
                    "k": key,
                    "deal_id": deal["deal_id"],
                    "owner_id": deal["owner_id"],
                    "competitor": name,
                    "status": deal["status"],
                    "in_play": 1 if name in names else 0,
                }
            )
        s["deals"].update(deal["deal_id"], competitors=json.dumps(names, ensure_ascii=False))

    def _close(self, s, r: Recorded, status: str, day: Any) -> dict[str, Any] | None:
        deal = s["deals"].update(r.aggregate_id, status=status, closed_on=day and day.isoformat())
        if deal is not None:
            for name in json.loads(deal["competitors"]):
                s["competitors"].update(f"{deal['deal_id']}|{name}", status=status)
        return deal

    @handles(Deal.Opened)
    def opened(self, s, r: Recorded) -> None:
        s["deals"].put(
            {
                "deal_id": r.aggregate_id,
                "owner_id": r.event.owner_id,
                "status": "open",
                "proposals": 0,
                "closed_on": None,
                "competitors": "[]",
            }
        )

    @handles(Deal.ProposalSent)
    def proposal_sent(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is not None:
            s["deals"].update(r.aggregate_id, proposals=deal["proposals"] + 1)

    @handles(Deal.NegotiationUpdated)
    def negotiation_updated(self, s, r: Recorded) -> None:
        change = r.event.changes.get("competitors")
        deal = s["deals"].get(r.aggregate_id)
        if change is not None and deal is not None:
            self._play(s, deal, list(change["to"]))

    @handles(Deal.Won)
    def won(self, s, r: Recorded) -> None:
        self._close(s, r, "won", r.event.signed_on)

    @handles(Deal.Lost)
    def lost(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        competitor = r.event.competitor
        if deal is not None and competitor and competitor not in json.loads(deal["competitors"]):
            self._play(s, deal, [*json.loads(deal["competitors"]), competitor])
        self._close(s, r, "lost", getattr(r.event, "lost_on", None))


DEAL_ANALYTICS = DealAnalyticsProjection()


def _owners(column: str, owners: Collection[str] | None, where: list[str], params: list[Any]) -> None:
    if owners is not None:
        chosen = sorted(owners)
        where.append(f"{column} IN ({', '.join('?' * len(chosen))})" if chosen else "1 = 0")
        params += chosen


def win_rate_by_proposals(
    tx: Tx, *, owners: Collection[str] | None = None, owner_id: str | None = None
) -> dict[str, Any]:
    """Deals grouped by the number of proposals sent: open, won, lost and the win rate of each."""
    t = active_tables(tx, DEAL_ANALYTICS)
    where: list[str] = []
    params: list[Any] = []
    if owner_id is not None:
        where.append("owner_id = ?")
        params.append(owner_id)
    _owners("owner_id", owners, where, params)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"open": 0, "won": 0, "lost": 0})
    for proposals, status, n in tx.all(
        f"SELECT proposals, status, COUNT(*) FROM {t['deals']} {clause} GROUP BY proposals, status", params
    ):
        counts[int(proposals)][status] += int(n)
    rows = [
        {"proposals": p, **c, "win_rate": fraction(c["won"], c["won"] + c["lost"])} for p, c in sorted(counts.items())
    ]
    return {"rows": rows}


def competitor_report(tx: Tx, *, owners: Collection[str] | None = None, limit: int = 100) -> dict[str, Any]:
    """Competitors by the number of deals we met them on (in play on the deal's last picture or
    named on its loss), with our wins, losses and win rate against each."""
    t = active_tables(tx, DEAL_ANALYTICS)
    where = ["in_play = 1"]
    params: list[Any] = []
    _owners("owner_id", owners, where, params)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"open": 0, "won": 0, "lost": 0})
    for name, status, n in tx.all(
        f"SELECT competitor, status, COUNT(*) FROM {t['competitors']} WHERE {' AND '.join(where)} "
        f"GROUP BY competitor, status",
        params,
    ):
        counts[name][status] += int(n)
    rows = [
        {
            "competitor": name,
            "deals": sum(c.values()),
            **c,
            "win_rate": fraction(c["won"], c["won"] + c["lost"]),
        }
        for name, c in counts.items()
    ]
    rows.sort(key=lambda row: (-row["deals"], row["competitor"]))
    return {"rows": rows[:limit]}
