"""Exchange rates as a read model: the rate of a currency in force on a business date.

Rows are keyed by currency and effective date; a later event for the same day supersedes the
earlier one. Projections that convert amounts while they are built (KPIs, the commission ledger)
keep their own copy of this table through `RateBook`, so they depend on nothing but events; a
query that converts when it answers (open pipeline on `as_of`) reads the `fx` projection."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from domain.errors import InvalidInput
from domain.fx import FxRates, Rate
from domain.values import base_currency, currency, round_money
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables

RATE_COLUMNS = ("k", "currency", "effective_on", "rate", "position")
RATE_TABLE = [
    """CREATE TABLE IF NOT EXISTS {rates} (
    k TEXT PRIMARY KEY, currency TEXT NOT NULL, effective_on TEXT NOT NULL, rate TEXT NOT NULL,
    position BIGINT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS {rates}_currency ON {rates} (currency, effective_on)",
]


def rate_row(r: Recorded) -> dict[str, Any]:
    """The row a `FxRates.RateSet` event puts (over an earlier rate for the same day)."""
    code, day = r.event.currency, r.event.effective_on.isoformat()
    return {
        "k": f"{code}|{day}",
        "currency": code,
        "effective_on": day,
        "rate": str(r.event.rate),
        "position": r.position,
    }


class RateBook:
    """Rates kept in a table of the projection that owns it (read and written in its transaction)."""

    def __init__(self, tx: Tx, table: str) -> None:
        self.tx, self.table = tx, table
        self.rows = Rows(tx, table, "k", RATE_COLUMNS)
        self._timelines: dict[str, tuple[list[date], list[Rate]]] = {}

    def put(self, row: dict[str, Any]) -> None:
        self.rows.put(row)
        self.rows.flush()  # later events of the same batch convert at it
        self._timelines.pop(row["currency"], None)

    def on(self, code: str, day: date) -> Rate | None:
        """The rate of `code` in force on `day`: 1 for the base currency; None when none is set.
        (A currency's rates are read once, in one query: there are a few per currency and month.)"""
        if code == base_currency():
            return Rate(code, Decimal(1), date.min, 0)
        if code not in self._timelines:
            rates = [
                Rate(code, Decimal(rate), date.fromisoformat(on), int(position))
                for rate, on, position in self.tx.all(
                    f"SELECT rate, effective_on, position FROM {self.table} WHERE currency = ? ORDER BY effective_on",
                    (code,),
                )
            ]
            self._timelines[code] = ([r.effective_on for r in rates], rates)
        days, rates = self._timelines[code]
        at = bisect_right(days, day)
        return rates[at - 1] if at else None

    def next_change(self, code: str, day: date) -> date | None:
        """The first effective date of `code` after `day`."""
        row = self.tx.one(
            f"SELECT MIN(effective_on) FROM {self.table} WHERE currency = ? AND effective_on > ?",
            (code, day.isoformat()),
        )
        return date.fromisoformat(row[0]) if row and row[0] else None


def rate_on(tx: Tx, table: str, code: str, day: date) -> Rate | None:
    row = tx.one(
        f"SELECT rate, effective_on, position FROM {table} WHERE currency = ? AND effective_on <= ? "
        "ORDER BY effective_on DESC LIMIT 1",
        (code, day.isoformat()),
    )
    return Rate(code, Decimal(row[0]), date.fromisoformat(row[1]), int(row[2])) if row else None


class FxProjection(Projection):
    name = "fx"
    version = 1
    tables = {"rates": RATE_TABLE}

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        return {"rates": Rows(tx, tables["rates"], "k", RATE_COLUMNS)}

    @handles(FxRates.RateSet)
    def rate_set(self, s: dict[str, Rows], r: Recorded) -> None:
        s["rates"].put(rate_row(r))


FX = FxProjection()


def rates_in_force(tx: Tx, day: date) -> dict[str, Rate]:
    """Every foreign currency's rate in force on `day`."""
    t = active_tables(tx, FX)
    codes = [code for (code,) in tx.all(f"SELECT DISTINCT currency FROM {t['rates']} ORDER BY currency")]
    found = {code: rate_on(tx, t["rates"], code, day) for code in codes}
    return {code: rate for code, rate in found.items() if rate is not None}


def rate_history(tx: Tx, code: str | None = None) -> list[dict[str, Any]]:
    """Every rate as set (the latest for each day), by currency and effective date."""
    t = active_tables(tx, FX)
    where, params = ("WHERE currency = ?", [code]) if code else ("", [])
    return [
        {"currency": c, "rate": rate, "effective_on": day, "position": position}
        for c, day, rate, position in tx.all(
            f"SELECT currency, effective_on, rate, position FROM {t['rates']} {where} ORDER BY currency, effective_on",
            params,
        )
    ]


def converter(tx: Tx) -> RateBook:
    """Rates of the `fx` read model for conversions done while answering a query."""
    return RateBook(tx, active_tables(tx, FX)["rates"])


def redenominate(tx: Tx, view: dict[str, Any], display: str | None, day: date, paths: Sequence[str]) -> dict[str, Any]:
    """A base-currency answer shown in `display` instead: every amount at `paths` (`a.b`, `rows[].value`)
    divided by the display currency's rate in force on `day`, to the cent (ROUND_HALF_UP); the
    answer names the currency and the rate used. Unknown or unrated display currencies are refused."""
    if display is None:
        return view
    code = currency(display, "display_currency")
    if code == base_currency():
        return {**view, "currency": code}
    found = rate_on(tx, active_tables(tx, FX)["rates"], code, day)
    if found is None:
        raise InvalidInput(
            f"display_currency: no {code} rate is in force on {day.isoformat()}", field="display_currency", value=code
        )
    for path in paths:
        _divide(view, path.split("."), found.rate)
    return {**view, "currency": code, "display_rate": {**found.explain(), "on": day.isoformat()}}


def _divide(node: Any, steps: list[str], rate: Decimal) -> None:
    step, rest = steps[0], steps[1:]
    if step.endswith("[]"):
        for item in node.get(step[:-2]) or []:
            _divide(item, rest, rate)
        return
    if not isinstance(node, dict) or node.get(step) is None:
        return
    if rest:
        _divide(node[step], rest, rate)
    elif isinstance(node[step], Decimal):
        node[step] = round_money(node[step] / rate)
