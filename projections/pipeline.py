"""The pipeline board: open deals per stage (count, amount, probability-weighted amount),
won and lost totals, stage conversion, stage velocity, win rate, loss reasons and the weighted
forecast by expected close month — filterable by the owner's team and region, the owner, the
product line and the period in which deals were opened.

The board is answered from totals the projection maintains as deals change, not from the deals:
`totals` per owner × product line × currency × month opened × status/stage (with the expected
close month, loss reason, furthest stage reached and month closed), and `stays` (days spent in a
stage, as a histogram) with the same dimensions. A deal's share of both is a pure function of its
row, so each batch subtracts what the deals it touches contributed before and adds what they
contribute now. A query reads totals bounded by owners × months × stages, whatever the number of
deals; the company's board (no owner, team or region) reads `company_totals` and `company_stays`,
the same sums over owners, kept beside them: rows bounded by months × stages. The team and region filters place each owner through the org timeline month by month, and
read single deals only for an owner's month in which their team or region changed."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.deal import Deal
from domain.fx import FxRates, convert
from domain.values import DEFAULT_STAGE_PROBABILITIES, OPEN_STAGES, Period, base_currency
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables
from projections.fx import RATE_TABLE, RateBook, converter, rate_row, redenominate
from projections.money import fraction, from_cents, to_cents
from projections.org import OrgHistory, Placement, month_bounds

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
    "steps",  # JSON [[to_stage, day], ...] in the order the deal moved (for velocity)
    "rate",  # a closed deal's rate into base currency on its closing date ('' when none is set yet)
)
# what a deal is counted under; `closed_month` is '' for open deals and losses without a date
TOTAL_DIMS = (
    "owner_id",
    "product_line",
    "currency",
    "opened_month",
    "status",
    "stage",
    "expected_month",
    "lost_reason",
    "max_stage",
    "closed_month",
)
TOTAL_MEASURES = (
    "n",
    "amount_cents",
    "weighted_cents",
    "signed_cents",
    "margin_cents",
    "refunded_cents",
    # closed deals in base currency at the rate of their closing date; unconverted: no rate yet
    "base_signed_cents",
    "base_margin_cents",
    "base_refunded_cents",
    "base_lost_cents",
    "unconverted_cents",
)
# the measures' columns, as every totals table (the owners' and the rollups over them) declares them
MEASURE_COLUMNS = ", ".join(f"{m} BIGINT NOT NULL" for m in TOTAL_MEASURES)
STAY_DIMS = ("owner_id", "product_line", "currency", "opened_month", "status", "closed_month", "stage", "days")
STAY_MEASURES = ("n",)
# The company's board needs no owner: the same totals summed over owners (and the months deals
# closed), kept beside them, so that the boards without an owner, team or region filter (the
# usual ones) read rows bounded by months × stages, not by owners × months × stages.
ROLLUPS = {  # rollup table: (table it sums, its dimensions kept, measures)
    "company_totals": ("totals", tuple(d for d in TOTAL_DIMS if d not in ("owner_id", "closed_month")), TOTAL_MEASURES),
    "company_stays": (
        "stays",
        tuple(d for d in STAY_DIMS if d not in ("owner_id", "status", "closed_month")),
        STAY_MEASURES,
    ),
    # ... and over product lines and months opened too: the whole board, unfiltered
    "all_totals": (
        "totals",
        tuple(d for d in TOTAL_DIMS if d not in ("owner_id", "closed_month", "product_line", "opened_month")),
        TOTAL_MEASURES,
    ),
    "all_stays": ("stays", ("stage", "days"), STAY_MEASURES),
}
WON_REACH = len(OPEN_STAGES)  # a won deal has passed every stage


def weighted_cents(amount_cents: int, probability: Decimal) -> int:
    return to_cents(Decimal(amount_cents) / 100 * probability)


def _probability(event: Any, stage: str) -> Decimal:
    """The probability the event applied (older events did not carry one: the default then)."""
    value = getattr(event, "probability", None)
    return DEFAULT_STAGE_PROBABILITIES[stage] if value is None else Decimal(value)


def _key(values: Iterable[Any]) -> str:
    return json.dumps([*values], ensure_ascii=False, separators=(",", ":"))


ROLLUP_BATCH = 1000  # deals touched by a batch from which the rollups are summed again at the head
# rows of `rollup_state`: the rollups wait to be summed from the owners' totals; the owners' totals
# and stays wait to be summed from the deals (only in a generation that answers no query: a rebuild)
ROLLUPS_ROW, TOTALS_ROW = 1, 2


def rollups_stale(tx: Tx, tables: dict[str, str], row: int = ROLLUPS_ROW) -> bool:
    return bool(tx.value(f"SELECT stale FROM {tables['rollup_state']} WHERE id = ?", (row,)))


def _mark_rollups(tx: Tx, tables: dict[str, str], *, stale: bool, row: int = ROLLUPS_ROW) -> None:
    tx.execute(
        f"INSERT INTO {tables['rollup_state']} (id, stale) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET stale = excluded.stale",
        (row, int(stale)),
    )


def _answering(tx: Tx, tables: dict[str, str]) -> bool:
    """Whether these tables are the generation queries read (not a rebuild's new one)."""
    try:
        return active_tables(tx, PIPELINE)["deals"] == tables["deals"]
    except LookupError:
        return True


def _sum_totals(tx: Tx, tables: dict[str, str], chunk: int = 5000) -> None:
    """The owners' totals and stays summed again from every deal: the deals read in chunks, each
    chunk's sums appended to a staging table, which the database sums into the tables at the end
    (memory bounded by a chunk, not by the history)."""
    parts = (("totals", TOTAL_DIMS, TOTAL_MEASURES), ("stays", STAY_DIMS, STAY_MEASURES))
    staged = {table: f"staged_{tables[table]}" for table, _, _ in parts}
    for table, _, _ in parts:
        tx.execute(f"DROP TABLE IF EXISTS {staged[table]}")
        if tx.kind == "sqlite":
            tx.execute(f"CREATE TEMP TABLE {staged[table]} AS SELECT * FROM {tables[table]} WHERE 0 = 1")
        else:
            tx.execute(f"CREATE TEMP TABLE {staged[table]} (LIKE {tables[table]})")
    after = ""
    while rows := tx.all(
        f"SELECT {', '.join(DEAL_COLUMNS)} FROM {tables['deals']} WHERE deal_id > ? ORDER BY deal_id LIMIT {chunk}",
        (after,),
    ):
        sums: dict[str, dict[tuple, list[int]]] = {"totals": {}, "stays": {}}
        for row in rows:
            for table, contributed in contributions(dict(zip(DEAL_COLUMNS, row, strict=True))).items():
                for dims, measures in contributed.items():
                    _add(sums[table], dims, measures, 1)
        for table, dims_names, measure_names in parts:
            columns = ("k", *dims_names, *measure_names)
            out = [(_key(dims), *dims, *acc) for dims, acc in sums[table].items()]
            if tx.kind == "sqlite":
                tx.executemany(
                    f"INSERT INTO {staged[table]} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", out
                )
            else:
                with tx.conn.cursor().copy(f"COPY {staged[table]} ({', '.join(columns)}) FROM STDIN") as copy:
                    for values in out:
                        copy.write_row(values)
        after = rows[-1][0]
    for table, dims_names, measure_names in parts:
        keys = ", ".join(("k", *dims_names))
        tx.execute(f"DELETE FROM {tables[table]}")
        tx.execute(
            f"INSERT INTO {tables[table]} ({keys}, {', '.join(measure_names)}) "
            f"SELECT {keys}, {', '.join(f'SUM({m})' for m in measure_names)} FROM {staged[table]} GROUP BY {keys}"
        )
        tx.execute(f"DROP TABLE {staged[table]}")
    _mark_rollups(tx, tables, stale=False, row=TOTALS_ROW)


def _sum_rollups(tx: Tx, tables: dict[str, str]) -> None:
    """Every rollup summed again from the owners' totals (rows bounded by months x stages)."""
    for rollup, (source, kept, measures) in ROLLUPS.items():
        rows = Rows(tx, tables[rollup], "k", ("k", *kept, *measures))
        for row in tx.all(
            f"SELECT {', '.join(kept)}, {', '.join(f'SUM({m})' for m in measures)} FROM {tables[source]} "
            f"GROUP BY {', '.join(kept)}"
        ):
            dims, values = tuple(row[: len(kept)]), [int(v) for v in row[len(kept) :]]
            if any(values):
                rows.put(
                    {"k": _key(dims), **dict(zip(kept, dims, strict=True)), **dict(zip(measures, values, strict=True))}
                )
        tx.execute(f"DELETE FROM {tables[rollup]}")
        rows.flush()
    _mark_rollups(tx, tables, stale=False)


def _add(into: dict[tuple, list[int]], dims: tuple, measures: Sequence[int], sign: int) -> None:
    acc = into.setdefault(dims, [0] * len(measures))
    for i, value in enumerate(measures):
        acc[i] += sign * value


def contributions(deal: dict[str, Any] | None) -> dict[str, dict[tuple, tuple[int, ...]]]:
    """What one deal adds to `totals` and `stays`: {table: {dimensions: measures}}."""
    if deal is None:
        return {"totals": {}, "stays": {}}
    status = deal["status"]
    closed_month = (deal["closed_on"] or "")[:7] if status != "open" else ""
    base = (deal["owner_id"], deal["product_line"], deal["currency"], deal["opened_on"][:7])
    rate = Decimal(1) if deal["currency"] == base_currency() else Decimal(deal["rate"]) if deal["rate"] else None

    def in_base(cents: int) -> int:
        return 0 if rate is None else to_cents(convert(from_cents(cents), rate))

    if status == "open":
        dims = (status, deal["stage"], (deal["expected_close"] or "")[:7] or "unscheduled", "", deal["max_stage"])
        measures = (1, deal["amount_cents"], deal["weighted_cents"], 0, 0, 0, 0, 0, 0, 0, 0)
    elif status == "won":
        dims = (status, "", "", "", WON_REACH)
        signed, margin, refunded = deal["signed_cents"], deal["margin_cents"], deal["refunded_cents"]
        converted = (in_base(signed), in_base(margin), in_base(refunded), 0)
        measures = (1, 0, 0, signed, margin, refunded, *converted, signed if rate is None else 0)
    else:
        dims = (status, "", "", deal["lost_reason"] or "unspecified", deal["max_stage"])
        amount = deal["amount_cents"]
        measures = (1, amount, 0, 0, 0, 0, 0, 0, 0, in_base(amount), amount if rate is None else 0)
    stays: dict[tuple, tuple[int, ...]] = {}
    steps = json.loads(deal["steps"] or "[]")
    for (stage, entered), (_, left) in itertools.pairwise(steps):
        if stage in OPEN_STAGES:
            key = (*base, status, closed_month, stage, (date.fromisoformat(left) - date.fromisoformat(entered)).days)
            stays[key] = (stays.get(key, (0,))[0] + 1,)
    return {"totals": {(*base, *dims, closed_month): measures}, "stays": stays}


class PipelineProjection(Projection):
    name = "pipeline"
    version = 6  # 4: totals and stays per batch; a deal's steps kept on its row; 5: currencies; 6: rollups
    tables = {
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
                deal_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_line TEXT NOT NULL,
                currency TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL, probability TEXT NOT NULL,
                amount_cents BIGINT NOT NULL, weighted_cents BIGINT NOT NULL, signed_cents BIGINT NOT NULL,
                margin_cents BIGINT NOT NULL, refunded_cents BIGINT NOT NULL, opened_on TEXT NOT NULL,
                expected_close TEXT, max_stage INTEGER NOT NULL, lost_reason TEXT, last_position BIGINT NOT NULL,
                closed_on TEXT, steps TEXT NOT NULL, rate TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {deals}_owner ON {deals} (owner_id, closed_on)",
            "CREATE INDEX IF NOT EXISTS {deals}_currency ON {deals} (currency, closed_on)",
        ],
        "totals": [
            """CREATE TABLE IF NOT EXISTS {totals} (
                k TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_line TEXT NOT NULL, currency TEXT NOT NULL,
                opened_month TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL, expected_month TEXT NOT NULL,
                lost_reason TEXT NOT NULL, max_stage INTEGER NOT NULL, closed_month TEXT NOT NULL,
                """
            + MEASURE_COLUMNS
            + ")",
            "CREATE INDEX IF NOT EXISTS {totals}_currency ON {totals} (currency, opened_month)",
            "CREATE INDEX IF NOT EXISTS {totals}_owner ON {totals} (owner_id, closed_month)",
        ],
        "stays": [
            """CREATE TABLE IF NOT EXISTS {stays} (
                k TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_line TEXT NOT NULL, currency TEXT NOT NULL,
                opened_month TEXT NOT NULL, status TEXT NOT NULL, closed_month TEXT NOT NULL, stage TEXT NOT NULL,
                days INTEGER NOT NULL, n BIGINT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {stays}_currency ON {stays} (currency, opened_month)",
            "CREATE INDEX IF NOT EXISTS {stays}_owner ON {stays} (owner_id, closed_month)",
        ],
        "company_totals": [
            """CREATE TABLE IF NOT EXISTS {company_totals} (
                k TEXT PRIMARY KEY, product_line TEXT NOT NULL, currency TEXT NOT NULL,
                opened_month TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL, expected_month TEXT NOT NULL,
                lost_reason TEXT NOT NULL, max_stage INTEGER NOT NULL,
                """
            + MEASURE_COLUMNS
            + ")",
        ],
        "company_stays": [
            """CREATE TABLE IF NOT EXISTS {company_stays} (
                k TEXT PRIMARY KEY, product_line TEXT NOT NULL, currency TEXT NOT NULL,
                opened_month TEXT NOT NULL, stage TEXT NOT NULL, days INTEGER NOT NULL, n BIGINT NOT NULL)""",
        ],
        "all_totals": [
            """CREATE TABLE IF NOT EXISTS {all_totals} (
                k TEXT PRIMARY KEY, currency TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL,
                expected_month TEXT NOT NULL, lost_reason TEXT NOT NULL, max_stage INTEGER NOT NULL,
                """
            + MEASURE_COLUMNS
            + ")",
        ],
        "all_stays": [
            "CREATE TABLE IF NOT EXISTS {all_stays} (k TEXT PRIMARY KEY, stage TEXT NOT NULL, days INTEGER NOT NULL, n BIGINT NOT NULL)"
        ],
        # stale = 1 while the rollups (row 1) or a rebuild's owner totals and stays (row 2) wait to be
        # summed again (see `commit` and `settle`)
        "rollup_state": ["CREATE TABLE IF NOT EXISTS {rollup_state} (id INTEGER PRIMARY KEY, stale INTEGER NOT NULL)"],
        "rates": RATE_TABLE,
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Any]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        touched = {r.aggregate_id for r in batch if r.type.startswith("Deal")}
        deals.load(touched)
        # A rebuild's big batches keep the deals alone: the owners' totals, stays and rollups are
        # summed once from all deals by the batch that reaches the head (`settle`).
        replay = rollups_stale(tx, tables, TOTALS_ROW) or (len(touched) >= ROLLUP_BATCH and not _answering(tx, tables))
        return {
            "deals": deals,
            "before": {},
            "replay": replay,
            "tx": tx,
            "tables": tables,
            "rates": RateBook(tx, tables["rates"]),
        }

    @staticmethod
    def _rate(s: dict[str, Any], code: str, day: date) -> str:
        found = s["rates"].on(code, day)
        return str(found.rate) if found is not None else ""

    @handles(FxRates.RateSet)
    def rate_set(self, s, r: Recorded) -> None:
        """Closed deals of the currency from the rate's date to its next one convert at it."""
        book: RateBook = s["rates"]
        book.put(rate_row(r))
        code, start = r.event.currency, r.event.effective_on
        end = book.next_change(code, start)
        t = s["tables"]
        ids = [
            deal_id
            for (deal_id,) in s["tx"].all(
                f"SELECT deal_id FROM {t['deals']} WHERE currency = ? AND closed_on >= ? AND closed_on < ?",
                (code, start.isoformat(), (end or date.max).isoformat()),
            )
        ]
        s["deals"].load(ids)
        ids += [d["deal_id"] for d in s["deals"].loaded() if d["currency"] == code and d["closed_on"]]
        for deal_id in sorted(set(ids)):
            deal = self._touch(s, deal_id)
            if (
                deal is not None
                and deal["closed_on"]
                and start.isoformat() <= deal["closed_on"] < (end or date.max).isoformat()
            ):
                s["deals"].update(deal_id, rate=self._rate(s, code, date.fromisoformat(deal["closed_on"])))

    def _touch(self, s: dict[str, Any], deal_id: str) -> dict[str, Any] | None:
        """The deal's row, remembering once per batch what it contributed before the batch."""
        deal = s["deals"].get(deal_id)
        if deal_id not in s["before"]:
            s["before"][deal_id] = None if s["replay"] else contributions(deal)
        return deal

    def _step(self, deal: dict[str, Any], to_stage: str, day: date) -> None:
        deal["steps"] = json.dumps([*json.loads(deal["steps"] or "[]"), [to_stage, day.isoformat()]])

    def commit(self, tx: Tx, tables: dict[str, str], state: Any) -> None:
        if state["replay"]:
            state["deals"].flush()
            _mark_rollups(tx, tables, stale=True, row=TOTALS_ROW)
            _mark_rollups(tx, tables, stale=True)
            self._unsettled = True
            return
        deltas: dict[str, dict[tuple, list[int]]] = {"totals": {}, "stays": {}}
        for deal_id, before in state["before"].items():
            after = contributions(state["deals"].get(deal_id))
            for table, sign, parts in (
                *((t, -1, p) for t, p in before.items()),
                *((t, 1, p) for t, p in after.items()),
            ):
                for dims, measures in parts.items():
                    _add(deltas[table], dims, measures, sign)
        # A big batch (a rebuild, a backlog) leaves the rollups to be summed once at the head
        # instead of upserting them batch after batch; boards read the owners' totals meanwhile.
        upkeep = not rollups_stale(tx, tables)
        if upkeep and len(state["before"]) >= ROLLUP_BATCH:
            _mark_rollups(tx, tables, stale=True)
            self._unsettled, upkeep = True, False
        for rollup, (source, kept, _) in ROLLUPS.items() if upkeep else ():
            at = [(TOTAL_DIMS if source == "totals" else STAY_DIMS).index(d) for d in kept]
            deltas[rollup] = {}
            for dims, acc in deltas[source].items():
                _add(deltas[rollup], tuple(dims[i] for i in at), acc, 1)
        state["deals"].flush()
        for table, dims_names, measure_names in (
            ("totals", TOTAL_DIMS, TOTAL_MEASURES),
            ("stays", STAY_DIMS, STAY_MEASURES),
            *((rollup, kept, measures) for rollup, (_, kept, measures) in ROLLUPS.items() if upkeep),
        ):
            changed = {_key(dims): (dims, acc) for dims, acc in deltas[table].items() if any(acc)}
            if not changed:
                continue
            rows = Rows(tx, tables[table], "k", ("k", *dims_names, *measure_names))
            rows.load(changed)
            gone = []
            for k, (dims, acc) in changed.items():
                old = rows.get(k)
                values = [(old[m] if old else 0) + d for m, d in zip(measure_names, acc, strict=True)]
                if not any(values):
                    if old is not None:
                        gone.append(k)
                        rows._rows.pop(k, None)
                    continue
                rows.put(
                    {
                        "k": k,
                        **dict(zip(dims_names, dims, strict=True)),
                        **dict(zip(measure_names, values, strict=True)),
                    }
                )
            rows._dirty -= set(gone)
            rows.flush()
            for i in range(0, len(gone), 500):
                part = gone[i : i + 500]
                tx.execute(f"DELETE FROM {tables[table]} WHERE k IN ({', '.join('?' * len(part))})", part)

    # Whether this process may have left totals or rollups stale (or has not looked yet: a process
    # starts not knowing what the last one left). While it may, every batch settles, even one
    # without deal events, so that the batch reaching the head sums them; boards read the owners'
    # totals until then.
    _unsettled = True

    @property
    def settles(self) -> bool:
        """A batch without deal events changes no totals: the engine may only move the position,
        unless stale rollups wait for the head (a backlog's last batches may hold no deal event)."""
        return self._unsettled

    def settle(self, tx: Tx, tables: dict[str, str], *, at_head: bool) -> None:
        if not at_head:
            return
        if rollups_stale(tx, tables, TOTALS_ROW):
            _sum_totals(tx, tables)
        if rollups_stale(tx, tables):
            _sum_rollups(tx, tables)
        self._unsettled = False

    @handles(Deal.Opened)
    def deal_opened(self, s, r: Recorded) -> None:
        self._touch(s, r.aggregate_id)
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
                "steps": json.dumps([[stage, e.opened_on.isoformat()]]),
                "rate": "",
            }
        )

    @handles(Deal.StageChanged)
    def deal_stage_changed(self, s, r: Recorded) -> None:
        deal = self._touch(s, r.aggregate_id)
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
        self._step(deal, e.to_stage, getattr(e, "changed_on", None) or date.fromisoformat(deal["opened_on"]))

    @handles(Deal.Revised)
    def deal_revised(self, s, r: Recorded) -> None:
        deal = self._touch(s, r.aggregate_id)
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
        deal = self._touch(s, r.aggregate_id)
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
            rate=self._rate(s, deal["currency"], r.event.signed_on),
        )
        self._step(deal, "won", r.event.signed_on)

    @handles(Deal.Lost)
    def deal_lost(self, s, r: Recorded) -> None:
        deal = self._touch(s, r.aggregate_id)
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
            s["deals"].update(
                r.aggregate_id, closed_on=lost_on.isoformat(), rate=self._rate(s, deal["currency"], lost_on)
            )
            self._step(deal, "lost", lost_on)

    @handles(Deal.Refunded)
    def deal_refunded(self, s, r: Recorded) -> None:
        deal = self._touch(s, r.aggregate_id)
        if deal is not None:
            s["deals"].update(
                r.aggregate_id,
                refunded_cents=deal["refunded_cents"] + to_cents(r.event.amount),
                last_position=r.position,
            )


PIPELINE = PipelineProjection()

FILTERS = {"owner_id": "owner_id", "product_line": "product_line"}
ORG_FILTERS = ("team", "region")  # answered from the org timeline, as of each deal's date


def _days(histogram: dict[int, int]) -> dict[str, Any]:
    """Count, mean and median of a histogram {days: how many stays}."""
    count = sum(histogram.values())
    if not count:
        return {"count": 0, "mean_days": None, "median_days": None}
    total = sum(days * n for days, n in histogram.items())
    mean = (Decimal(total) / count).quantize(Decimal("0.01"), ROUND_HALF_UP)
    ordered, seen, middle = sorted(histogram.items()), 0, []
    wanted = [(count - 1) // 2, count // 2]
    for days, n in ordered:
        while wanted and wanted[0] < seen + n:
            middle.append(days)
            wanted.pop(0)
        seen += n
    median = (Decimal(middle[0] + middle[1]) / 2).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return {"count": count, "mean_days": mean, "median_days": median}


def pipeline_board(
    tx: Tx,
    *,
    currency: str | None = None,
    period: Period | None = None,
    owners: Collection[str] | None = None,
    as_of: date,
    display: str | None = None,
    **filters: str | None,
) -> dict[str, Any]:
    """The board over the deals matching `filters` (and owned by one of `owners`, when given).

    `team` and `region` are the owner's on each deal's own date, from the org timeline: the
    signing date of a won deal, the loss date of a lost one, `as_of` for a deal still open. A rep
    who moved teams leaves their open deals with the new team and their past wins with the old.

    With `currency`, only that currency's deals in their own amounts; without, every deal in base
    currency: won and lost amounts at the rate of their closing date (kept by the projection),
    open amounts at the rate in force on `as_of` (per currency and stage total, to the cent);
    amounts with no rate are counted but listed under `unconverted`, never summed in."""
    t = active_tables(tx, PIPELINE)
    where, params = (["currency = ?"], [currency]) if currency else (["1 = 1"], [])
    for key, column in FILTERS.items():
        if filters.get(key) is not None:
            where.append(f"{column} = ?")
            params.append(filters[key])
    if period is not None:
        where.append("opened_month >= ? AND opened_month <= ?")
        params += [period.start.isoformat()[:7], period.end.isoformat()[:7]]
    if owners is not None:  # a rep's or a manager's own: read only their owners' totals
        among, values = tx.among("owner_id", sorted(owners))
        where.append(among)
        params += values
    scopes = [f"{key}:{filters[key]}" for key in ORG_FILTERS if filters.get(key) is not None]
    by_owner = bool(scopes)  # the org timeline places owners month by month
    org = OrgHistory.of(tx) if scopes else None
    if org is not None:  # only reps who ever sat in the team (region) can be placed in it
        among, values = tx.among("owner_id", sorted(set.intersection(*(set(org.ever_in(s) or ()) for s in scopes))))
        where.append(among)
        params += values
    # without team or region, the database sums over owners and months itself
    # the board needs neither owners nor the months deals closed in: the database sums over them
    totals_dims = [d for d in TOTAL_DIMS if d not in ("product_line", "opened_month", "owner_id", "closed_month")]
    stays_dims = [d for d in STAY_DIMS if d not in ("product_line", "currency", "opened_month", "owner_id")]
    stays_dims = [d for d in stays_dims if d not in ("closed_month", "status")]
    clause = " AND ".join(where)
    # the company's board (no owner named or implied) reads the rollups summed over owners
    company = not by_owner and owners is None and filters.get("owner_id") is None
    whole = company and where == ["1 = 1"]  # no currency, product line or period either
    if company and rollups_stale(tx, t):  # being summed again after a rebuild or a backlog
        company = whole = False
    level = "all_" if whole else "company_" if company else ""
    totals_table, stays_table = t[f"{level}totals"], t[f"{level}stays"]
    chunks: list[tuple[str, list[Any]]] = [(clause, params)]
    split: list[tuple[str, str]] = []
    placement = None
    if scopes:  # each owner placed once per month closed (open deals as of `as_of`)
        placement = Placement(tx, scopes, org)
        inside = []
        for owner, month in tx.all(
            f"SELECT DISTINCT owner_id, closed_month FROM {totals_table} WHERE {clause}", params
        ):
            whole_month = placement.on(owner, as_of) if not month else placement.month(owner, month)
            if whole_month is None:
                split.append((owner, month))
            elif whole_month:
                inside.append((owner, month))
        size = tx.list_limit
        chunks = []
        for part in (inside[i : i + size] for i in range(0, len(inside), size)):
            among, values = tx.pairs_among(("owner_id", "closed_month"), part)
            chunks.append((f"{clause} AND {among}", [*params, *values]))
    totals: list[dict[str, Any]] = []
    stays: list[dict[str, Any]] = []
    for where_sql, where_params in chunks:  # (the board sums rows of equal dimensions itself)
        totals += [
            dict(zip((*totals_dims, *TOTAL_MEASURES), row, strict=True))
            for row in tx.all(
                f"SELECT {', '.join(totals_dims)}, {', '.join(f'SUM({m})' for m in TOTAL_MEASURES)} "
                f"FROM {totals_table} WHERE {where_sql} GROUP BY {', '.join(totals_dims)}",
                where_params,
            )
        ]
        stays += [
            dict(zip((*stays_dims, "n"), row, strict=True))
            for row in tx.all(
                f"SELECT {', '.join(stays_dims)}, SUM(n) FROM {stays_table} WHERE {where_sql} "
                f"GROUP BY {', '.join(stays_dims)}",
                where_params,
            )
        ]
    if placement is not None and split:
        more_totals, more_stays = _split_deals(tx, t, placement, split, clause, params)
        totals += more_totals
        stays += more_stays
    if currency:
        return {**_board(currency, period, filters, totals, stays), "unconverted": []}
    totals, unconverted = _in_base(tx, totals, as_of)
    board = _board(base_currency(), period, filters, totals, stays)
    board["unconverted"] = [
        {"currency": code, "amount": from_cents(cents)} for code, cents in sorted(unconverted.items()) if cents
    ]
    return redenominate(tx, board, display, as_of, BOARD_MONEY)


BOARD_MONEY = (
    "stages[].amount",
    "stages[].weighted_amount",
    "open.amount",
    "open.weighted_amount",
    "won.amount",
    "won.gross_margin",
    "won.refunded",
    "won.net_amount",
    "lost.amount",
    "forecast[].amount",
    "forecast[].weighted_amount",
)


def _in_base(tx: Tx, totals: list[dict[str, Any]], as_of: date) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Totals with every amount in base currency, and what no rate converts, per currency."""
    book = converter(tx)  # one lookup per currency, however many rows
    unconverted: dict[str, int] = defaultdict(int)
    out = []
    for row in totals:
        code = row["currency"]
        row = {**row, "signed_cents": row["base_signed_cents"], "margin_cents": row["base_margin_cents"]}
        row["refunded_cents"] = row["base_refunded_cents"]
        unconverted[code] += int(row["unconverted_cents"])
        if row["status"] == "lost":
            row["amount_cents"] = row["base_lost_cents"]
        elif row["status"] == "open" and code != base_currency():
            found = book.on(code, as_of)
            if found is None:
                unconverted[code] += int(row["amount_cents"])
                row["amount_cents"] = row["weighted_cents"] = 0
            else:
                for m in ("amount_cents", "weighted_cents"):
                    row[m] = to_cents(convert(from_cents(int(row[m])), found.rate))
        out.append(row)
    return out, unconverted


def _split_deals(
    tx: Tx,
    t: dict[str, str],
    placement: Placement,
    split: list[tuple[str, str]],
    clause: str,
    params: list[Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The totals and stays of the closed deals of owners whose team or region changed within
    the month they closed in, deal by deal, each placed on the day it closed."""
    totals: list[dict[str, Any]] = []
    stays: list[dict[str, Any]] = []
    for owner, month in sorted(split):
        start, end = month_bounds(month)
        rows = tx.all(
            f"SELECT {', '.join(DEAL_COLUMNS)} FROM {t['deals']} WHERE owner_id = ? AND closed_on >= ? "
            f"AND closed_on <= ? AND status <> 'open' AND {clause.replace('opened_month', 'substr(opened_on, 1, 7)')}",
            [owner, start.isoformat(), end.isoformat(), *params],
        )
        for row in rows:
            deal = dict(zip(DEAL_COLUMNS, row, strict=True))
            if not placement.on(owner, date.fromisoformat(deal["closed_on"])):
                continue
            parts = contributions(deal)
            for dims, measures in parts["totals"].items():
                totals.append(
                    {**dict(zip(TOTAL_DIMS, dims, strict=True)), **dict(zip(TOTAL_MEASURES, measures, strict=True))}
                )
            for dims, (n,) in parts["stays"].items():
                stays.append({**dict(zip(STAY_DIMS, dims, strict=True)), "n": n})
    return totals, stays


def _board(
    currency: str,
    period: Period | None,
    filters: dict[str, str | None],
    totals: list[dict[str, Any]],
    stays: list[dict[str, Any]],
) -> dict[str, Any]:
    open_by_stage = {stage: [0, 0, 0] for stage in OPEN_STAGES}
    won, lost = [0, 0, 0, 0], [0, 0]
    reasons: dict[str, int] = defaultdict(int)
    forecast: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    reached = [0] * (len(OPEN_STAGES) + 1)  # deals that reached each stage, then won
    for row in totals:
        n = int(row["n"])
        if row["status"] == "open":
            for bucket in (open_by_stage[row["stage"]], forecast[row["expected_month"]]):
                bucket[0] += n
                bucket[1] += int(row["amount_cents"])
                bucket[2] += int(row["weighted_cents"])
        elif row["status"] == "won":
            won[0] += n
            won[1] += int(row["signed_cents"])
            won[2] += int(row["margin_cents"])
            won[3] += int(row["refunded_cents"])
        else:
            lost[0] += n
            lost[1] += int(row["amount_cents"])
            reasons[row["lost_reason"]] += n
        for i in range(min(int(row["max_stage"]), WON_REACH) + 1):
            reached[i] += n
    velocity: dict[str, dict[int, int]] = {stage: defaultdict(int) for stage in OPEN_STAGES}
    for row in stays:
        velocity[row["stage"]][int(row["days"])] += int(row["n"])

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
    steps = [*OPEN_STAGES, "won"]
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
            if n
        ],
        "conversion": [
            {
                "from": steps[i],
                "to": steps[i + 1],
                "reached_from": reached[i],
                "reached_to": reached[i + 1],
                "rate": fraction(reached[i + 1], reached[i]),
            }
            for i in range(len(OPEN_STAGES))
        ],
        "velocity": [{"stage": stage, **_days(velocity[stage])} for stage in OPEN_STAGES],
        "forecast": [
            {"month": month, "count": c, "amount": from_cents(a), "weighted_amount": from_cents(w)}
            for month, (c, a, w) in sorted(forecast.items())
            if c
        ],
    }
