"""Accounts: customers with their deals, payments and last activity — behind Customer 360,
receivables, credit exposure, the customer distribution and the dormancy check."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.customer import Customer
from domain.deal import Deal
from domain.errors import InvalidInput
from domain.fx import convert
from domain.receivables import billed, collection_rate, kept, receivable
from domain.values import Period, base_currency
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, add_to_totals, handles, totals_table
from projections.engine.tracking import active_tables
from projections.fx import converter, redenominate
from projections.money import from_cents, to_cents
from projections.org import OrgHistory, Placement, ever_in_clause

CUSTOMER_COLUMNS = (
    "customer_id",
    "name",
    "region",
    "industry",
    "owner_id",
    "grade",
    "classification",
    "lifecycle",
    "last_activity_on",
    "external_id",
)
DEAL_COLUMNS = (
    "deal_id",
    "customer_id",
    "owner_id",
    "title",
    "product_line",
    "currency",
    "status",
    "stage",
    "opened_on",
    "amount_cents",
    "signed_cents",
    "margin_cents",
    "collected_cents",
    "refunded_cents",
    "cancelled_cents",
    "signed_on",
    "due_on",
    "external_id",
)
PAYMENT_COLUMNS = ("position", "deal_id", "customer_id", "amount_cents", "received_on")


COLLECTION_DIMS, COLLECTION_MEASURES = ("owner_id", "month", "currency"), ("billed_cents", "kept_cents")


def _collection(deal: dict | None) -> tuple[tuple[str, str, str], list[int]] | None:
    """What a won deal adds to its owner's collection totals of its signing month: billed and
    kept, in its own currency."""
    if deal is None or deal["status"] != "won" or not deal["signed_on"]:
        return None
    return (deal["owner_id"], deal["signed_on"][:7], deal["currency"]), [
        billed(deal["signed_cents"], deal["cancelled_cents"]),
        kept(deal["collected_cents"], deal["refunded_cents"]),
    ]


def _later(current: str | None, day: date) -> str:
    return max(current or "", day.isoformat())


class AccountsProjection(Projection):
    name = "accounts"
    version = 3  # 2: customers and deals keep their external_id (imports); 3: collection totals per owner and
    # month, deals indexed by owner
    tables = {
        "customers": [
            """CREATE TABLE IF NOT EXISTS {customers} (
            customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, region TEXT NOT NULL, industry TEXT NOT NULL,
            owner_id TEXT, grade TEXT, classification TEXT, lifecycle TEXT NOT NULL, last_activity_on TEXT,
            external_id TEXT)""",
            "CREATE INDEX IF NOT EXISTS {customers}_external ON {customers} (external_id)",
        ],
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
            deal_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, owner_id TEXT NOT NULL, title TEXT,
            product_line TEXT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, stage TEXT NOT NULL,
            opened_on TEXT NOT NULL, amount_cents BIGINT NOT NULL, signed_cents BIGINT NOT NULL,
            margin_cents BIGINT NOT NULL, collected_cents BIGINT NOT NULL, refunded_cents BIGINT NOT NULL,
            cancelled_cents BIGINT NOT NULL, signed_on TEXT, due_on TEXT, external_id TEXT)""",
            "CREATE INDEX IF NOT EXISTS {deals}_external ON {deals} (external_id)",
            "CREATE INDEX IF NOT EXISTS {deals}_customer ON {deals} (customer_id)",
            "CREATE INDEX IF NOT EXISTS {deals}_signed ON {deals} (signed_on)",
            "CREATE INDEX IF NOT EXISTS {deals}_owner ON {deals} (owner_id, signed_on)",  # a team's deals
        ],
        "payments": [
            """CREATE TABLE IF NOT EXISTS {payments} (
            position BIGINT PRIMARY KEY, deal_id TEXT NOT NULL, customer_id TEXT NOT NULL,
            amount_cents BIGINT NOT NULL, received_on TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {payments}_customer ON {payments} (customer_id)",
        ],
        # won deals' billed and kept amounts per owner, signing month and currency (collection rates)
        "collections": totals_table(
            "collections", COLLECTION_DIMS, COLLECTION_MEASURES, {"month": ("month", "currency")}
        ),
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        customers = Rows(tx, tables["customers"], "customer_id", CUSTOMER_COLUMNS)
        customers.load(
            r.aggregate_id for r in batch if r.type.startswith("Customer") and r.type != "CustomerRegistered"
        )
        deals = Rows(tx, tables["deals"], "deal_id", DEAL_COLUMNS)
        deals.load(r.aggregate_id for r in batch if r.type.startswith("Deal") and r.type != "DealOpened")
        return {
            "customers": customers,
            "deals": deals,
            "payments": Rows(tx, tables["payments"], "position", PAYMENT_COLUMNS),
            # what the deals the batch touches (all loaded above, or opened in it) added before it
            "collected": {deal["deal_id"]: _collection(deal) for deal in deals.loaded()},
        }

    def commit(self, tx: Tx, tables: dict[str, str], state: Any) -> None:
        """The deals' changes move their collection totals: before the batch out, after it in."""
        added: dict[tuple, list[int]] = {}
        for deal_id in state["deals"]._dirty:
            for part, sign in ((state["collected"].get(deal_id), -1), (_collection(state["deals"].get(deal_id)), 1)):
                if part is not None:
                    acc = added.setdefault(part[0], [0, 0])
                    acc[0], acc[1] = acc[0] + sign * part[1][0], acc[1] + sign * part[1][1]
        super().commit(tx, tables, state)
        add_to_totals(tx, tables["collections"], COLLECTION_DIMS, COLLECTION_MEASURES, added, drop=True)

    def _touch(self, s, customer_id: str | None, day: date) -> None:
        row = customer_id and s["customers"].get(customer_id)
        if row:
            s["customers"].update(customer_id, last_activity_on=_later(row["last_activity_on"], day))

    @handles(Customer.Registered)
    def customer_registered(self, s, r: Recorded) -> None:
        e = r.event
        s["customers"].put(
            {
                "customer_id": r.aggregate_id,
                "name": e.name,
                "region": e.region,
                "industry": e.industry,
                "owner_id": e.owner_id,
                "grade": None,
                "classification": None,
                "lifecycle": "prospect",
                "last_activity_on": e.registered_on.isoformat(),
                "external_id": getattr(e, "external_id", None),
            }
        )

    @handles(Customer.Graded)
    def customer_graded(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, grade=r.event.to_grade)

    @handles(Customer.Classified)
    def customer_classified(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, classification=r.event.to_classification)

    @handles(Customer.OwnerTransferred)
    def customer_owner_transferred(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, owner_id=r.event.to_owner)

    @handles(Customer.LifecycleChanged)
    def customer_lifecycle_changed(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, lifecycle=r.event.to_state)
        if r.event.to_state == "active":
            self._touch(s, r.aggregate_id, r.event.on)

    @handles(Customer.VisitLogged)
    def customer_visit_logged(self, s, r: Recorded) -> None:
        self._touch(s, r.aggregate_id, r.event.occurred_at.date())

    @handles(Customer.FeedbackGiven)
    def customer_feedback_given(self, s, r: Recorded) -> None:
        self._touch(s, r.aggregate_id, r.event.given_on)

    @handles(Deal.Opened)
    def deal_opened(self, s, r: Recorded) -> None:
        e = r.event
        s["deals"].put(
            {
                "deal_id": r.aggregate_id,
                "customer_id": e.customer_id,
                "owner_id": e.owner_id,
                "title": e.title,
                "product_line": e.product_line,
                "currency": e.currency,
                "status": "open",
                "stage": "initial_contact",
                "opened_on": e.opened_on.isoformat(),
                "amount_cents": to_cents(e.amount),
                "signed_cents": 0,
                "margin_cents": 0,
                "collected_cents": 0,
                "refunded_cents": 0,
                "cancelled_cents": 0,
                "signed_on": None,
                "due_on": None,
                "external_id": getattr(e, "external_id", None),
            }
        )
        self._touch(s, e.customer_id, e.opened_on)

    def _deal(self, s, r: Recorded, **changes: Any) -> dict | None:
        return s["deals"].update(r.aggregate_id, **changes)

    @handles(Deal.StageChanged)
    def deal_stage_changed(self, s, r: Recorded) -> None:
        deal = self._deal(s, r, stage=r.event.to_stage)
        if deal and getattr(r.event, "changed_on", None):
            self._touch(s, deal["customer_id"], r.event.changed_on)

    @handles(Deal.Revised)
    def deal_revised(self, s, r: Recorded) -> None:
        self._deal(s, r, amount_cents=to_cents(r.event.to_amount))

    @handles(Deal.Won)
    def deal_won(self, s, r: Recorded) -> None:
        e = r.event
        deal = self._deal(
            s,
            r,
            status="won",
            signed_cents=to_cents(e.amount),
            margin_cents=to_cents(e.gross_margin),
            signed_on=e.signed_on.isoformat(),
            due_on=(getattr(e, "payment_due_on", None) or e.signed_on).isoformat(),
        )
        if deal:
            self._touch(s, deal["customer_id"], e.signed_on)

    @handles(Deal.Lost)
    def deal_lost(self, s, r: Recorded) -> None:
        self._deal(s, r, status="lost")

    @handles(Deal.PaymentReceived)
    def deal_payment_received(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        cents = to_cents(r.event.amount)
        self._deal(s, r, collected_cents=deal["collected_cents"] + cents)
        s["payments"].put(
            {
                "position": r.position,
                "deal_id": r.aggregate_id,
                "customer_id": deal["customer_id"],
                "amount_cents": cents,
                "received_on": r.event.received_on.isoformat(),
            }
        )
        self._touch(s, deal["customer_id"], r.event.received_on)

    @handles(Deal.Refunded)
    def deal_refunded(self, s, r: Recorded) -> None:
        deal = s["deals"].get(r.aggregate_id)
        if deal is None:
            return
        cents = to_cents(r.event.amount)
        if getattr(r.event, "kind", "refund") == "cancellation":
            self._deal(s, r, cancelled_cents=deal["cancelled_cents"] + cents)
        else:
            self._deal(s, r, refunded_cents=deal["refunded_cents"] + cents)


ACCOUNTS = AccountsProjection()


# -- queries ---------------------------------------------------------------------------------------
class _Base:
    """Amounts of deals in base currency: a receivable is a claim in the deal's currency, so a
    won deal's billed, collected and outstanding amounts convert at the rate of its signing date
    (the collection rate measures collection, not exchange movements); an open deal's amount at
    the rate of the query's date. What no rate converts is tallied per currency in `unconverted`."""

    def __init__(self, tx: Tx, today: date) -> None:
        self.book = converter(tx)
        self.today = today
        self.unconverted: dict[str, int] = defaultdict(int)
        self._rates: dict[tuple[str, str | None], Decimal | None] = {}  # (currency, signing date)

    def rate(self, d: dict) -> Decimal | None:
        key = (d["currency"], d["signed_on"] if d["status"] == "won" and d["signed_on"] else None)
        if key not in self._rates:
            found = self.book.on(key[0], date.fromisoformat(key[1]) if key[1] else self.today)
            self._rates[key] = found.rate if found is not None else None
        return self._rates[key]

    def cents(self, d: dict, cents: int) -> int:
        """`cents` of deal `d` in base currency (0, and tallied as unconverted, when no rate)."""
        rate = self.rate(d)
        if rate is None:
            self.unconverted[d["currency"]] += cents
            return 0
        return cents if rate == 1 else to_cents(convert(from_cents(cents), rate))

    def listed(self) -> list[dict[str, Any]]:
        return [{"currency": c, "amount": from_cents(n)} for c, n in sorted(self.unconverted.items()) if n]


def _receivable_cents(d: dict) -> int:
    """What is still owed on a won deal (domain.receivables.receivable), in cents."""
    if d["status"] != "won":
        return 0
    return receivable(d["signed_cents"], d["cancelled_cents"], d["collected_cents"], d["refunded_cents"])


def _deals(tx: Tx, where: str = "", params: Sequence[Any] = (), columns: Sequence[str] = DEAL_COLUMNS) -> list[dict]:
    t = active_tables(tx, ACCOUNTS)
    rows = tx.all(f"SELECT {', '.join(columns)} FROM {t['deals']} {where}", list(params))
    return [dict(zip(columns, row, strict=True)) for row in rows]


# what a collection rate reads of a deal
COLLECTED_COLUMNS = (
    "owner_id",
    "status",
    "signed_on",
    "currency",
    "signed_cents",
    "cancelled_cents",
    "collected_cents",
    "refunded_cents",
)


def _deal_view(d: dict) -> dict:
    return {
        "deal_id": d["deal_id"],
        "title": d["title"],
        "owner_id": d["owner_id"],
        "product_line": d["product_line"],
        "currency": d["currency"],
        "status": d["status"],
        "stage": d["stage"],
        "opened_on": d["opened_on"],
        "amount": from_cents(d["amount_cents"]),
        "signed_amount": from_cents(d["signed_cents"]),
        "gross_margin": from_cents(d["margin_cents"]),
        "signed_on": d["signed_on"],
        "payment_due_on": d["due_on"],
        "collected": from_cents(d["collected_cents"]),
        "refunded": from_cents(d["refunded_cents"]),
        "cancelled": from_cents(d["cancelled_cents"]),
        "receivable": from_cents(_receivable_cents(d)),
    }


def customer_accounts(tx: Tx, customer_id: str, today: date) -> dict:
    """The customer's deals and payments (for Customer 360)."""
    t = active_tables(tx, ACCOUNTS)
    deals = _deals(tx, "WHERE customer_id = ? ORDER BY opened_on, deal_id", (customer_id,))
    payments = [
        {"deal_id": deal, "amount": from_cents(cents), "received_on": day, "position": pos}
        for pos, deal, cents, day in tx.all(
            f"SELECT position, deal_id, amount_cents, received_on FROM {t['payments']} WHERE customer_id = ? "
            f"ORDER BY received_on, position",
            (customer_id,),
        )
    ]
    last = tx.value(f"SELECT last_activity_on FROM {t['customers']} WHERE customer_id = ?", (customer_id,))
    base, left_out = _Base(tx, today), _Base(tx, today)  # each figure tallies what it leaves out
    return {
        "deals": [_deal_view(d) for d in deals],
        "payments": payments,
        "last_activity_on": last,
        "currency": base_currency(),
        "exposure": from_cents(sum(base.cents(d, _exposure_cents(d)) for d in deals)),
        "receivable": from_cents(sum(left_out.cents(d, _receivable_cents(d)) for d in deals)),
        "unconverted": {"exposure": base.listed(), "receivable": left_out.listed()},
    }


def _exposure_cents(d: dict) -> int:
    return d["amount_cents"] if d["status"] == "open" else _receivable_cents(d)


def exposure(tx: Tx, customer_id: str, today: date) -> Decimal:
    """Open deal amounts plus receivables, in base currency: what a credit limit is measured
    against (an amount no rate converts yet is not counted)."""
    base = _Base(tx, today)
    deals = _deals(tx, "WHERE customer_id = ?", (customer_id,))
    return from_cents(sum(base.cents(d, _exposure_cents(d)) for d in deals))


def receivables(
    tx: Tx,
    *,
    period: Period,
    as_of: date,
    group_by: str = "rep",
    owners: Collection[str] | None = None,
    display: str | None = None,
) -> dict:
    """Collection rate of the deals signed in the period, per owner or team (on the signing
    date), and every receivable overdue at `as_of`; with `owners`, only those reps' deals."""
    if group_by not in ("rep", "team"):
        raise InvalidInput("group_by must be rep or team", field="group_by")
    org = OrgHistory.of(tx)
    base = _Base(tx, as_of)
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for d in _signed_in(tx, period):
        if owners is not None and d["owner_id"] not in owners:
            continue
        key = (
            d["owner_id"]
            if group_by == "rep"
            else (org.attrs(d["owner_id"], date.fromisoformat(d["signed_on"])) or {}).get("team", "unknown")
        )
        g = groups[key]
        g[0] += 1
        if base.rate(d) is None:  # counted, its amounts listed apart
            base.cents(d, billed(d["signed_cents"], d["cancelled_cents"]))
            continue
        g[1] += base.cents(d, billed(d["signed_cents"], d["cancelled_cents"]))
        g[2] += base.cents(d, kept(d["collected_cents"], d["refunded_cents"]))
        g[3] += base.cents(d, _receivable_cents(d))
    rows = []
    for key, (count, due, cash, open_cents) in sorted(groups.items()):
        row = {
            group_by: key,
            "deals": count,
            "billed": from_cents(due),
            "collected": from_cents(cash),
            "receivable": from_cents(open_cents),
            "collection_rate": collection_rate(cash, due),
        }
        if group_by == "rep":
            row["name"] = org.names.get(key)
        rows.append(row)
    overdue, late = [], _Base(tx, as_of)
    overdue_cents = 0
    for d in _deals(tx, "WHERE status = 'won' AND due_on < ? ORDER BY due_on, deal_id", (as_of.isoformat(),)):
        if _receivable_cents(d) > 0 and (owners is None or d["owner_id"] in owners):
            in_base = late.cents(d, _receivable_cents(d))
            overdue_cents += in_base
            overdue.append(
                {
                    **_deal_view(d),
                    "customer_id": d["customer_id"],
                    "days_overdue": (as_of - date.fromisoformat(d["due_on"])).days,
                    "receivable_in_base": from_cents(in_base) if late.rate(d) is not None else None,
                }
            )
    report = {
        "period": period.label,
        "as_of": as_of,
        "group_by": group_by,
        "currency": base_currency(),
        "rows": rows,
        "unconverted": base.listed(),
        "overdue": overdue,
        "overdue_total": from_cents(overdue_cents),
        "overdue_unconverted": late.listed(),
    }
    return redenominate(tx, report, display, as_of, REPORT_MONEY)


REPORT_MONEY = (
    "rows[].billed",
    "rows[].collected",
    "rows[].receivable",
    "overdue_total",
    "overdue[].receivable_in_base",
)


def _signed_in(tx: Tx, period: Period) -> list[dict]:
    return _deals(
        tx,
        "WHERE status = 'won' AND signed_on >= ? AND signed_on <= ?",
        (period.start.isoformat(), period.end.isoformat()),
    )


def scope_collection_rate(tx: Tx, *, period: Period, scope: str, org: OrgHistory | None = None) -> Decimal | None:
    """The collection rate (domain.receivables.collection_rate) of the deals signed in `period`
    whose owner was in `scope` (company, region:X, team:Y, rep:ID) on the signing date: the same
    figure as the matching `receivables` row."""
    org = org or OrgHistory.of(tx)
    base = _Base(tx, period.end)
    due = cash = 0
    # Deals in base currency need no conversion: the projection keeps them summed per owner and
    # month (rows bounded by owners x months), each owner placed once per month; an owner who moved
    # within a month has that month's deals read one by one. Other currencies convert deal by deal.
    t = active_tables(tx, ACCOUNTS)
    placement = Placement(tx, [scope], org)
    bounds = (period.start.isoformat(), period.end.isoformat())
    moved: list[tuple[str, str]] = []
    owners, ever = ever_in_clause(tx, org, scope, "owner_id")  # a team's, a region's owners: only theirs are read
    for owner, month, billed_cents, kept_cents in tx.all(
        f"SELECT owner_id, month, billed_cents, kept_cents FROM {t['collections']} WHERE month >= ? AND month <= ? "
        f"AND currency = ?{owners}",
        (bounds[0][:7], bounds[1][:7], base_currency(), *ever),
    ):
        whole = placement.month(owner, month)
        if whole is None:
            moved.append((owner, month))
        elif whole:
            due += int(billed_cents)
            cash += int(kept_cents)
    deals = _deals(
        tx,
        f"WHERE status = 'won' AND signed_on >= ? AND signed_on <= ? AND currency <> ?{owners}",
        (*bounds, base_currency(), *ever),
        COLLECTED_COLUMNS,
    )
    if moved:  # their base-currency deals of those months, in one query
        (among, owners), months = tx.among("owner_id", sorted({o for o, _ in moved})), set(moved)
        deals += [
            d
            for d in _deals(
                tx,
                f"WHERE status = 'won' AND signed_on >= ? AND signed_on <= ? AND currency = ? AND {among}",
                (*bounds, base_currency(), *owners),
                COLLECTED_COLUMNS,
            )
            if (d["owner_id"], d["signed_on"][:7]) in months
        ]
    for d in deals:
        if org.in_scope(d["owner_id"], date.fromisoformat(d["signed_on"]), scope) and base.rate(d) is not None:
            due += base.cents(d, billed(d["signed_cents"], d["cancelled_cents"]))
            cash += base.cents(d, kept(d["collected_cents"], d["refunded_cents"]))
    return collection_rate(cash, due)


def distribution(tx: Tx, owners: Collection[str] | None = None) -> dict:
    """Customers counted by grade, lifecycle state, region and classification; with `owners`,
    only the customers those reps own."""
    t = active_tables(tx, ACCOUNTS)
    columns = ("grade", "lifecycle", "region", "classification")
    rows = tx.all(f"SELECT owner_id, {', '.join(columns)} FROM {t['customers']}")
    rows = [row[1:] for row in rows if owners is None or row[0] in owners]
    result: dict[str, Any] = {"total": len(rows)}
    for i, column in enumerate(columns):
        counts = Counter(row[i] or "unset" for row in rows)
        result[f"by_{column}"] = dict(sorted(counts.items()))
    return result


def customers_owned_by(tx: Tx, owner_id: str) -> list[str]:
    """Ids of the customers `owner_id` owns now (the ones a leaving rep must hand over), sorted."""
    t = active_tables(tx, ACCOUNTS)
    return [
        c
        for (c,) in tx.all(
            f"SELECT customer_id FROM {t['customers']} WHERE owner_id = ? ORDER BY customer_id", (owner_id,)
        )
    ]


def dormancy_candidates(tx: Tx, *, as_of: date, days: int) -> list[tuple[str, date | None]]:
    """Active customers with no recorded activity in the last `days` days."""
    t = active_tables(tx, ACCOUNTS)
    cutoff = (as_of - timedelta(days=days)).isoformat()
    return [
        (c, None if last is None else date.fromisoformat(last))
        for c, last in tx.all(
            f"SELECT customer_id, last_activity_on FROM {t['customers']} WHERE lifecycle = 'active' "
            f"AND (last_activity_on IS NULL OR last_activity_on <= ?) ORDER BY customer_id",
            (cutoff,),
        )
    ]


# -- lists -----------------------------------------------------------------------------------------
def _keyset(
    tx: Tx, table: str, key: str, columns: Sequence[str], after: str | None, limit: int, where: list[str], params: list
) -> tuple[list[dict], str | None]:
    if after is not None:
        where.append(f"{key} > ?")
        params.append(after)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = tx.all(
        f"SELECT {', '.join(columns)} FROM {table} {clause} ORDER BY {key} LIMIT ?",
        [*params, limit + 1],
    )
    found = [dict(zip(columns, row, strict=True)) for row in rows]
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1][key] if more else None)


def _member_of(column: str, values: Collection[str], params: list) -> str:
    params.extend(sorted(values))
    return f"{column} IN ({', '.join('?' * len(values))})" if values else "1 = 0"


def _list_filters(
    visible_to: Collection[str] | None,
    owners: Collection[str] | None,
    columns: tuple[str, ...],
    filters: dict[str, str | None],
) -> tuple[list[str], list[Any]]:
    """WHERE clauses and parameters of a list: owners the caller may see, owners of a team or
    region, and equality filters on the given columns."""
    where: list[str] = []
    params: list[Any] = []
    for allowed in (visible_to, owners):
        if allowed is not None:
            where.append(_member_of("owner_id", allowed, params))
    for column in columns:
        if filters.get(column) is not None:
            where.append(f"{column} = ?")
            params.append(filters[column])
    return where, params


def list_customers(
    tx: Tx,
    *,
    after: str | None = None,
    limit: int = 50,
    visible_to: Collection[str] | None = None,
    owners: Collection[str] | None = None,
    **filters: str | None,
) -> dict:
    """Customers by id with keyset paging (`next` is the id to pass as `after`). Filters: region,
    industry, owner_id, grade, classification, lifecycle, external_id. With `visible_to`, only the
    customers those reps own."""
    t = active_tables(tx, ACCOUNTS)
    columns = ("region", "industry", "owner_id", "grade", "classification", "lifecycle", "external_id")
    where, params = _list_filters(visible_to, owners, columns, filters)
    rows, cursor = _keyset(tx, t["customers"], "customer_id", CUSTOMER_COLUMNS, after, limit, where, params)
    return {"items": rows, "next": cursor}


def list_deals(
    tx: Tx,
    *,
    after: str | None = None,
    limit: int = 50,
    visible_to: Collection[str] | None = None,
    owners: Collection[str] | None = None,
    **filters: str | None,
) -> dict:
    """Deals by id with keyset paging. Filters: status, stage, owner_id, customer_id, product_line,
    currency, external_id, and `owners` (the reps of a team or region). With `visible_to`, only the
    deals those reps own."""
    t = active_tables(tx, ACCOUNTS)
    columns = ("status", "stage", "owner_id", "customer_id", "product_line", "currency", "external_id")
    where, params = _list_filters(visible_to, owners, columns, filters)
    rows, cursor = _keyset(tx, t["deals"], "deal_id", DEAL_COLUMNS, after, limit, where, params)
    items = [{**_deal_view(d), "customer_id": d["customer_id"], "external_id": d["external_id"]} for d in rows]
    return {"items": items, "next": cursor}


def external_ids(tx: Tx) -> dict[str, dict[str, str]]:
    """external_id → record id for the customers and deals that came with one."""
    t = active_tables(tx, ACCOUNTS)
    return {
        "customers": dict(
            tx.all(f"SELECT external_id, customer_id FROM {t['customers']} WHERE external_id IS NOT NULL")
        ),
        "deals": dict(tx.all(f"SELECT external_id, deal_id FROM {t['deals']} WHERE external_id IS NOT NULL")),
    }
