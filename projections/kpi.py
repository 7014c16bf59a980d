"""KPI facts: every measurable thing a rep did, dated by its business date (targets: projections.targets).

One fact per credited rep per event (a split deal credits each rep share x amount). KPIs and
leaderboards for any scope and period are sums over facts, the scope decided by the rep's
team and region on the fact's own date.

Beside the facts the projection keeps what queries read as things are now: monthly totals per
rep, metric and product line (additive metrics), the (rep, month) pairs that have them, the same
totals summed over reps (the company), and for the metrics that count distinct subjects (a lead
contacted twice counts once per period) each subject's first fact per rep and period, counted per
(rep, period, month of that first fact)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.customer import Customer
from domain.deal import Deal, dump_splits, load_splits
from domain.fx import FxRates, convert
from domain.lead import Lead
from domain.rep import Rep
from domain.values import Period, base_currency
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, add_to_totals, handles, totals_table
from projections.engine.tracking import active_tables
from projections.fx import RATE_TABLE, RateBook, rate_row
from projections.money import from_cents, to_cents

# customer_id holds the fact's subject: the customer, or the lead for leads_contacted
FACT_COLUMNS = (
    "fact_id",
    "position",
    "rep_id",
    "day",
    "recorded_at",
    "metric",
    "product_line",
    "customer_id",
    "amount_cents",
    "qty",
    "currency",
    "orig_cents",
    "converted",
)
DEAL_COLUMNS = ("deal_id", "owner_id", "customer_id", "product_line", "splits", "currency")
CUSTOMER_COLUMNS = ("customer_id", "owner_id", "grade", "first_won_on")
FIRST_COLUMNS = ("k", "rep_id", "metric", "period", "subject", "day")
MONTHLY_DIMS, MONTHLY_MEASURES = ("rep_id", "month", "metric", "product_line"), ("amount_cents", "qty")
FIRSTS_DIMS = ("rep_id", "period", "month", "metric")  # first facts counted per month they fell in
DISTINCT_SUBJECTS = frozenset({"leads_contacted"})  # metrics that count distinct subjects, not events


def utc_text(moment: datetime) -> str:
    """A fixed-width UTC timestamp, so text comparison is time comparison on every backend."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class KpiProjection(Projection):
    """Money facts are in base currency: `amount_cents` is the amount converted at the rate in
    force on the fact's date (`orig_cents` in the deal's `currency`); with no rate yet the fact is
    `converted = 0`, counts nothing and is listed as unconverted, until a rate arrives and converts
    it (a rate entered later for earlier dates re-converts the facts it now covers)."""

    name = "kpi"
    version = 5  # 2: monthly totals per rep, metric and product line beside the facts; 3: quota relief;
    # 4: currencies; 5: distinct subjects' first facts and their counts, the company's monthly totals
    tables = {
        "facts": [
            """CREATE TABLE IF NOT EXISTS {facts} (
            fact_id BIGINT PRIMARY KEY, position BIGINT NOT NULL, rep_id TEXT NOT NULL, day TEXT NOT NULL,
            recorded_at TEXT NOT NULL, metric TEXT NOT NULL, product_line TEXT, customer_id TEXT,
            amount_cents BIGINT NOT NULL, qty INTEGER NOT NULL, currency TEXT, orig_cents BIGINT,
            converted INTEGER NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {facts}_day ON {facts} (day, metric)",
            "CREATE INDEX IF NOT EXISTS {facts}_rep ON {facts} (rep_id, day)",
            "CREATE INDEX IF NOT EXISTS {facts}_currency ON {facts} (currency, day)",
            "CREATE INDEX IF NOT EXISTS {facts}_unconverted ON {facts} (day) WHERE converted = 0",
        ],
        "rates": RATE_TABLE,
        "monthly": totals_table(
            "monthly", MONTHLY_DIMS, MONTHLY_MEASURES, {"month": ("month", "metric"), "rep": ("rep_id", "month")}
        ),
        # the (rep, month) pairs with monthly totals: what a scope's query places in the org
        "rep_months": [
            "CREATE TABLE IF NOT EXISTS {rep_months} (k TEXT PRIMARY KEY, rep_id TEXT NOT NULL, month TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS {rep_months}_month ON {rep_months} (month, rep_id)",
        ],
        # ... summed over reps (`reps`: how many reps' rows): the company's totals, bounded by months
        "company_monthly": totals_table(
            "company_monthly", MONTHLY_DIMS[1:], (*MONTHLY_MEASURES, "reps"), {"month": ("month", "metric")}
        ),
        # a distinct-subject metric's first fact per rep, subject and period (month, quarter, year)
        "firsts": [
            """CREATE TABLE IF NOT EXISTS {firsts} (
            k TEXT PRIMARY KEY, rep_id TEXT NOT NULL, metric TEXT NOT NULL, period TEXT NOT NULL,
            subject TEXT NOT NULL, day TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {firsts}_rep ON {firsts} (rep_id, period, day)",
        ],
        # ... counted per rep, period and the month in which the first fact fell
        "firsts_monthly": totals_table("firsts_monthly", FIRSTS_DIMS, ("qty",), {"period": ("period", "metric")}),
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
            deal_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, customer_id TEXT NOT NULL, product_line TEXT NOT NULL,
            splits TEXT NOT NULL, currency TEXT NOT NULL)"""
        ],
        "customers": [
            """CREATE TABLE IF NOT EXISTS {customers} (
            customer_id TEXT PRIMARY KEY, owner_id TEXT, grade TEXT, first_won_on TEXT)""",
            "CREATE INDEX IF NOT EXISTS {customers}_owner ON {customers} (owner_id, first_won_on)",  # a team's
        ],
        # quota relief: credit toward attainment of a period, never part of the actual
        "reliefs": [
            """CREATE TABLE IF NOT EXISTS {reliefs} (
            position BIGINT PRIMARY KEY, rep_id TEXT NOT NULL, period TEXT NOT NULL, metric TEXT NOT NULL,
            amount_cents BIGINT NOT NULL)"""
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Any]:
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type.startswith("Deal") and r.type != "DealOpened")
        customers = Rows(tx, tables["customers"], "customer_id", CUSTOMER_COLUMNS)
        customers.load(
            r.aggregate_id for r in batch if r.type.startswith("Customer") and r.type != "CustomerRegistered"
        )
        firsts = Rows(tx, tables["firsts"], "k", FIRST_COLUMNS)
        firsts.load(
            _first_key(r.event.rep_id, "leads_contacted", label, r.aggregate_id)
            for r in batch
            if isinstance(r.event, Lead.Contacted)
            for label in Period.labels_of(r.event.occurred_at.date())
        )
        return {
            "tx": tx,
            "tables": tables,
            "rates": RateBook(tx, tables["rates"]),
            "reconverted": {},
            "deals": deals,
            "customers": customers,
            "facts": Rows(tx, tables["facts"], "fact_id", FACT_COLUMNS),
            "firsts": firsts,
            "counted": {},  # (rep, period, month, metric): change in distinct subjects first counted then
            "reliefs": Rows(
                tx, tables["reliefs"], "position", ("position", "rep_id", "period", "metric", "amount_cents")
            ),
        }

    def commit(self, tx: Tx, tables: dict[str, str], state: Any) -> None:
        """Facts are only ever added: their amounts go onto the monthly totals they fall in; a
        subject's new first facts move its count between months."""
        added: dict[tuple[str, str, str, str], list[int]] = {}
        for fact in (state["facts"].get(k) for k in state["facts"]._dirty):
            key = (fact["rep_id"], fact["day"][:7], fact["metric"], fact["product_line"] or "")
            acc = added.setdefault(key, [0, 0])
            acc[0] += fact["amount_cents"]
            acc[1] += fact["qty"]
        for key, cents in state["reconverted"].items():  # stored facts a new rate converted again
            added.setdefault(key, [0, 0])[0] += cents
        super().commit(tx, tables, state)
        new = add_to_totals(tx, tables["monthly"], MONTHLY_DIMS, MONTHLY_MEASURES, added)
        pairs = Rows(tx, tables["rep_months"], "k", ("k", "rep_id", "month"))
        for rep, month in {key[:2] for key in new}:
            pairs.put({"k": f"{rep}|{month}", "rep_id": rep, "month": month})
        pairs.flush()
        company: dict[tuple, list[int]] = {}
        for key, (cents, qty) in added.items():
            acc = company.setdefault(key[1:], [0, 0, 0])
            acc[0], acc[1], acc[2] = acc[0] + cents, acc[1] + qty, acc[2] + (key in new)
        add_to_totals(tx, tables["company_monthly"], MONTHLY_DIMS[1:], (*MONTHLY_MEASURES, "reps"), company)
        counted = {key: [n] for key, n in state["counted"].items() if n}
        add_to_totals(tx, tables["firsts_monthly"], FIRSTS_DIMS, ("qty",), counted, drop=True)

    @handles(Rep.QuotaRelieved)
    def quota_relieved(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        s["reliefs"].put(
            {
                "position": r.position,
                "rep_id": r.aggregate_id,
                "period": e.period,
                "metric": e.metric,
                "amount_cents": to_cents(e.amount),
            }
        )

    @staticmethod
    def _fact(
        s: dict[str, Rows],
        r: Recorded,
        seq: int,
        rep_id: str,
        day: Any,
        metric: str,
        *,
        amount: Decimal | None = None,
        qty: int = 0,
        product_line: str | None = None,
        customer_id: str | None = None,
        code: str | None = None,
    ) -> None:
        cents, converted = 0 if amount is None else to_cents(amount), 1
        if code is not None and code != base_currency():  # in base currency at the rate of its date
            rate = s["rates"].on(code, day)
            converted = int(rate is not None)
            cents = to_cents(convert(amount or Decimal(0), rate.rate)) if rate is not None else 0
        s["facts"].put(
            {
                "fact_id": r.position * 1000 + seq,
                "position": r.position,
                "rep_id": rep_id,
                "day": day.isoformat(),
                "recorded_at": utc_text(r.event.timestamp),
                "metric": metric,
                "product_line": product_line,
                "customer_id": customer_id,
                "amount_cents": cents,
                "qty": qty,
                "currency": code if code != base_currency() else None,
                "orig_cents": None if amount is None else to_cents(amount),
                "converted": converted,
            }
        )

    @staticmethod
    def _first(s: dict[str, Any], rep_id: str, metric: str, subject: str, day: Any) -> None:
        """The subject counts once per rep and period, in the month of its earliest fact (business
        dates arrive in any order: an earlier fact moves the count to its month)."""
        on = day.isoformat()
        firsts: Rows = s["firsts"]
        counted = s["counted"]
        for label in Period.labels_of(day):
            k = _first_key(rep_id, metric, label, subject)
            row = firsts.get(k)
            if row is not None and row["day"] <= on:
                continue
            if row is not None:  # counted in a later month so far
                moved = (rep_id, label, row["day"][:7], metric)
                counted[moved] = counted.get(moved, 0) - 1
            firsts.put({"k": k, "rep_id": rep_id, "metric": metric, "period": label, "subject": subject, "day": on})
            key = (rep_id, label, on[:7], metric)
            counted[key] = counted.get(key, 0) + 1

    @handles(FxRates.RateSet)
    def rate_set(self, s, r: Recorded) -> None:
        """A rate from its date until the currency's next one: the facts it covers convert at it."""
        book: RateBook = s["rates"]
        book.put(rate_row(r))
        code, start = r.event.currency, r.event.effective_on
        end = book.next_change(code, start)
        rate = r.event.rate
        until = "9999-12-31" if end is None else end.isoformat()
        for fact in s["facts"].loaded():  # this batch's facts, not stored yet
            if fact["currency"] == code and start.isoformat() <= fact["day"] < until:
                fact.update(amount_cents=to_cents(convert(from_cents(fact["orig_cents"]), rate)), converted=1)
        t = s["tables"]
        sql = (
            f"SELECT fact_id, rep_id, day, metric, product_line, amount_cents, orig_cents FROM {t['facts']} "
            "WHERE currency = ? AND day >= ? AND day < ?"
        )
        params = [code, start.isoformat(), until]
        changed = []
        for fact_id, rep, day, metric, line, cents, orig in s["tx"].all(sql, params):
            new = to_cents(convert(from_cents(orig), rate))
            key = (rep, day[:7], metric, line or "")
            s["reconverted"][key] = s["reconverted"].get(key, 0) + new - cents
            changed.append((new, fact_id))
        s["tx"].executemany(f"UPDATE {t['facts']} SET amount_cents = ?, converted = 1 WHERE fact_id = ?", changed)

    @handles(Deal.Opened)
    def deal_opened(self, s, r: Recorded) -> None:
        e = r.event
        s["deals"].put(
            {
                "deal_id": r.aggregate_id,
                "owner_id": e.owner_id,
                "customer_id": e.customer_id,
                "product_line": e.product_line,
                "splits": dump_splits([{"rep_id": e.owner_id, "share": "1"}]),
                "currency": e.currency,
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
        e, seq = r.event, 0
        for split in load_splits(deal["splits"]):
            share = split["share"]
            for metric, amount in (("revenue", e.amount), ("gross_margin", e.gross_margin)):
                self._fact(
                    s,
                    r,
                    seq,
                    split["rep_id"],
                    e.signed_on,
                    metric,
                    amount=amount * share,
                    product_line=deal["product_line"],
                    customer_id=deal["customer_id"],
                    code=deal["currency"],
                )
                seq += 1
        self._fact(
            s,
            r,
            seq,
            deal["owner_id"],
            e.signed_on,
            "contracts_signed",
            qty=1,
            product_line=deal["product_line"],
            customer_id=deal["customer_id"],
        )
        customer = s["customers"].get(deal["customer_id"])
        if customer is not None and (
            customer["first_won_on"] is None or customer["first_won_on"] > e.signed_on.isoformat()
        ):
            s["customers"].update(deal["customer_id"], first_won_on=e.signed_on.isoformat())

    @handles(Deal.PaymentReceived)
    def deal_payment_received(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        for seq, split in enumerate(load_splits(deal["splits"])):
            self._fact(
                s,
                r,
                seq,
                split["rep_id"],
                r.event.received_on,
                "collections",
                amount=r.event.amount * split["share"],
                product_line=deal["product_line"],
                customer_id=deal["customer_id"],
                code=deal["currency"],
            )

    @handles(Customer.Registered)
    def customer_registered(self, s, r: Recorded) -> None:
        e = r.event
        s["customers"].put({"customer_id": r.aggregate_id, "owner_id": e.owner_id, "grade": None, "first_won_on": None})
        if e.owner_id:
            self._fact(s, r, 0, e.owner_id, e.registered_on, "new_customers", qty=1, customer_id=r.aggregate_id)

    @handles(Customer.Graded)
    def customer_graded(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, grade=r.event.to_grade)

    @handles(Customer.OwnerTransferred)
    def customer_owner_transferred(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, owner_id=r.event.to_owner)

    @handles(Customer.VisitLogged)
    def customer_visit_logged(self, s, r: Recorded) -> None:
        e = r.event
        self._fact(s, r, 0, e.rep_id, e.occurred_at.date(), "visits", qty=1, customer_id=r.aggregate_id)

    @handles(Lead.Contacted)
    def lead_contacted(self, s, r: Recorded) -> None:
        """One fact per contact; KPIs count distinct leads (the subject) per rep and period."""
        e = r.event
        self._fact(s, r, 0, e.rep_id, e.occurred_at.date(), "leads_contacted", qty=1, customer_id=r.aggregate_id)
        self._first(s, e.rep_id, "leads_contacted", r.aggregate_id, e.occurred_at.date())


KPI = KpiProjection()


def _first_key(rep_id: str, metric: str, period: str, subject: str) -> str:
    return f"{rep_id}|{metric}|{period}|{subject}"


def reliefs(tx: Tx, period: Any, until: int | None = None) -> dict[str, dict[str, Decimal]]:
    """Quota relief per rep and metric recorded for `period` or any part of it (up to store
    position `until`)."""
    t = active_tables(tx, KPI)
    out: dict[str, dict[str, Decimal]] = {}
    years = [str(year) for year in range(period.start.year, period.end.year + 1)]
    for rep_id, label, metric, cents in tx.all(
        f"SELECT rep_id, period, metric, amount_cents FROM {t['reliefs']} WHERE position <= ? AND "
        f"substr(period, 1, 4) IN ({', '.join('?' * len(years))})",
        [2**62 if until is None else until, *years],
    ):
        within = Period.parse(label)
        if period.start <= within.start and within.end <= period.end:
            by_metric = out.setdefault(rep_id, {})
            by_metric[metric] = by_metric.get(metric, Decimal("0.00")) + from_cents(cents)
    return out


def relief(tx: Tx, org: Any, *, scope: str, period: Any) -> dict[str, Decimal]:
    """Quota relief per metric for the reps in `scope` at the period's end."""
    out: dict[str, Decimal] = {}
    for rep_id, by_metric in reliefs(tx, period).items():
        if org.in_scope(rep_id, period.end, scope):
            for metric, amount in by_metric.items():
                out[metric] = out.get(metric, Decimal("0.00")) + amount
    return out
