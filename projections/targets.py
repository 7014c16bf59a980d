"""Targets as a read model: the one place a target is read from.

Every change of a target sheet (`TargetSheet.TargetSet`, `TargetSheet.Decomposed`) becomes a row
keyed by its store position, so the targets in force now, or at any earlier store position (a
closed commission statement recomputed), are one query. KPIs, leaderboards, assessments and
commission statements all read targets here; the TargetSheet aggregate is the one place a
target is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from domain.target import TargetSheet
from domain.values import MONEY_METRICS, Period, round_money
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables

CHANGE_COLUMNS = ("change_id", "position", "period", "metric", "scope", "value")


class TargetsProjection(Projection):
    name = "targets"
    version = 1
    tables = {
        "changes": [
            """CREATE TABLE IF NOT EXISTS {changes} (
            change_id BIGINT PRIMARY KEY, position BIGINT NOT NULL, period TEXT NOT NULL, metric TEXT NOT NULL,
            scope TEXT NOT NULL, value TEXT)""",
            "CREATE INDEX IF NOT EXISTS {changes}_metric ON {changes} (metric, position)",
        ]
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        return {"changes": Rows(tx, tables["changes"], "change_id", CHANGE_COLUMNS)}

    @staticmethod
    def _change(s: dict[str, Rows], r: Recorded, seq: int, scope: str, value: Decimal | None) -> None:
        """One scope's new value (None: dropped from a decomposition) from this event on."""
        s["changes"].put(
            {
                "change_id": r.position * 1000 + seq,
                "position": r.position,
                "period": r.event.period,
                "metric": r.event.metric,
                "scope": scope,
                "value": None if value is None else str(value),
            }
        )

    @handles(TargetSheet.TargetSet)
    def target_set(self, s: dict[str, Rows], r: Recorded) -> None:
        self._change(s, r, 0, r.event.scope, r.event.value)

    @handles(TargetSheet.Decomposed)
    def decomposed(self, s: dict[str, Rows], r: Recorded) -> None:
        for seq, child in enumerate(r.event.children):
            self._change(s, r, seq, child["scope"], child["value"])
        for seq, scope in enumerate(r.event.dropped, start=len(r.event.children)):
            self._change(s, r, seq, scope, None)


TARGETS = TargetsProjection()


# -- queries ---------------------------------------------------------------------------------------
class Targets:
    """Targets by (period, metric, scope); a month without its own target is prorated from its
    quarter or year (a quarter from its year), and says so."""

    def __init__(self, values: dict[tuple[str, str, str], Decimal]) -> None:
        self.values = values

    def get(self, period: Period, metric: str, scope: str) -> tuple[Decimal | None, str | None]:
        value = self.values.get((period.label, metric, scope))
        if value is not None:
            return value, "set"
        for larger in period.enclosing():
            value = self.values.get((larger.label, metric, scope))
            if value is not None:
                share = value * period.months() / larger.months()
                share = (
                    round_money(share) if metric in MONEY_METRICS else share.quantize(Decimal("0.01"), ROUND_HALF_UP)
                )
                return share, f"prorated from {larger.label}"
        return None, None


def targets_in_force(
    tx: Tx,
    *,
    metric: str | None = None,
    until_position: int | None = None,
    tables: dict[str, str] | None = None,
    period: Period | None = None,
    scope: str | None = None,
) -> Targets:
    """The targets in force (of one `metric`, or all), as recorded up to `until_position`
    (default: everything the read model has processed); `tables`: a copy kept inside another read
    model. With `period` (and `scope`), only what `Targets.get` consults for that period (and
    scope): its own targets and those of the periods enclosing it."""
    t = tables or active_tables(tx, TARGETS)
    sql = f"SELECT period, metric, scope, value FROM {t['changes']} WHERE position <= ?"
    params: list[object] = [until_position if until_position is not None else 2**62]
    if metric is not None:
        sql += " AND metric = ?"
        params.append(metric)
    if period is not None:
        labels = [period.label, *(p.label for p in period.enclosing())]
        sql += f" AND period IN ({', '.join('?' * len(labels))})"
        params += labels
    if scope is not None:
        sql += " AND scope = ?"
        params.append(scope)
    values: dict[tuple[str, str, str], Decimal] = {}
    for period, name, scope, value in tx.all(sql + " ORDER BY change_id", params):
        if value is None:
            values.pop((period, name, scope), None)
        else:
            values[(period, name, scope)] = Decimal(value)
    return Targets(values)
