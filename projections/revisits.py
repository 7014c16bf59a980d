"""Revisits read model (回访计划): each customer's last visit, grade and owner, the revisit policy,
and every revisit that fell due — done on time, done late, or recorded overdue by the scheduled
check. Behind `GET /customers/revisits`, `next_revisit_due` on Customer 360, the revisit check and
the `revisit_adherence` KPI.

A customer's next revisit is due `days[grade]` after its last visit (kind visit or revisit; the
registration date before any), with its grade and the policy as they are now: a grade change
moves the date at once. Ungraded and churned customers have no revisit plan."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from domain.customer import Customer
from domain.errors import InvalidInput
from domain.revisit_policy import DEFAULT_REVISIT_DAYS, RevisitPolicy
from domain.values import Period
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables
from projections.money import fraction
from projections.org import OrgHistory, Placement, ever_in_clause

CUSTOMER_COLUMNS = (
    "customer_id",
    "name",
    "owner_id",
    "grade",
    "lifecycle",
    "base_on",
    "last_visit_on",
    "overdue_key",
)
DUE_COLUMNS = ("k", "customer_id", "owner_id", "grade", "due_on", "done_on", "state", "position")
REVISIT_KINDS = ("visit", "revisit")
STATUSES = ("due", "overdue")


def _key(customer_id: str, due_on: str) -> str:
    return f"{customer_id}|{due_on}"


class RevisitsProjection(Projection):
    name = "revisits"
    version = 1
    tables = {
        "customers": [
            """CREATE TABLE IF NOT EXISTS {customers} (
            customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_id TEXT, grade TEXT, lifecycle TEXT NOT NULL,
            base_on TEXT NOT NULL, last_visit_on TEXT, overdue_key TEXT)""",
            "CREATE INDEX IF NOT EXISTS {customers}_grade ON {customers} (grade, base_on)",
            "CREATE INDEX IF NOT EXISTS {customers}_owner ON {customers} (owner_id)",
        ],
        "policy": ["CREATE TABLE IF NOT EXISTS {policy} (grade TEXT PRIMARY KEY, days INTEGER NOT NULL)"],
        "due": [
            """CREATE TABLE IF NOT EXISTS {due} (
            k TEXT PRIMARY KEY, customer_id TEXT NOT NULL, owner_id TEXT, grade TEXT NOT NULL, due_on TEXT NOT NULL,
            done_on TEXT, state TEXT NOT NULL, position BIGINT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {due}_due_on ON {due} (due_on)",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Any]:
        customers = Rows(tx, tables["customers"], "customer_id", CUSTOMER_COLUMNS)
        customers.load(
            r.aggregate_id for r in batch if r.type.startswith("Customer") and r.type != "CustomerRegistered"
        )
        policy = Rows(tx, tables["policy"], "grade", ("grade", "days"))
        policy.load(DEFAULT_REVISIT_DAYS)
        return {"customers": customers, "policy": policy, "due": Rows(tx, tables["due"], "k", DUE_COLUMNS)}

    @staticmethod
    def _days(s: dict[str, Any], grade: str) -> int:
        row = s["policy"].get(grade)
        return int(row["days"]) if row else DEFAULT_REVISIT_DAYS[grade]

    @handles(Customer.Registered)
    def registered(self, s, r: Recorded) -> None:
        e = r.event
        s["customers"].put(
            {
                "customer_id": r.aggregate_id,
                "name": e.name,
                "owner_id": e.owner_id,
                "grade": None,
                "lifecycle": "prospect",
                "base_on": e.registered_on.isoformat(),
                "last_visit_on": None,
                "overdue_key": None,
            }
        )

    @handles(Customer.Graded)
    def graded(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, grade=r.event.to_grade)

    @handles(Customer.OwnerTransferred)
    def owner_transferred(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, owner_id=r.event.to_owner)

    @handles(Customer.LifecycleChanged)
    def lifecycle_changed(self, s, r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, lifecycle=r.event.to_state)

    @handles(Customer.VisitLogged)
    def visit_logged(self, s, r: Recorded) -> None:
        e = r.event
        customer = s["customers"].get(r.aggregate_id)
        if customer is None or e.kind not in REVISIT_KINDS:
            return
        day = e.occurred_at.date().isoformat()
        if day < customer["base_on"] and customer["last_visit_on"] is not None:
            return  # an earlier visit logged late: the plan already counts from a later one
        grade = customer["grade"]
        key = customer["overdue_key"]
        if key is None and grade is not None and customer["lifecycle"] != "churned":
            due_on = (date.fromisoformat(customer["base_on"]) + timedelta(days=self._days(s, grade))).isoformat()
            key = _key(r.aggregate_id, due_on)
            s["due"].put(
                {
                    "k": key,
                    "customer_id": r.aggregate_id,
                    "owner_id": customer["owner_id"],
                    "grade": grade,
                    "due_on": due_on,
                    "done_on": None,
                    "state": "open",
                    "position": r.position,
                }
            )
        if key is not None:
            row = s["due"].get(key)
            if row is not None:
                s["due"].update(key, done_on=day, state="on_time" if day <= row["due_on"] else "late")
        s["customers"].update(
            r.aggregate_id, base_on=max(day, customer["base_on"]), last_visit_on=day, overdue_key=None
        )

    @handles(Customer.RevisitOverdue)
    def revisit_overdue(self, s, r: Recorded) -> None:
        e = r.event
        customer = s["customers"].get(r.aggregate_id)
        if customer is None:
            return
        key = _key(r.aggregate_id, e.due_on.isoformat())
        if s["due"].get(key) is None:
            s["due"].put(
                {
                    "k": key,
                    "customer_id": r.aggregate_id,
                    "owner_id": customer["owner_id"],
                    "grade": e.grade,
                    "due_on": e.due_on.isoformat(),
                    "done_on": None,
                    "state": "overdue",
                    "position": r.position,
                }
            )
        s["customers"].update(r.aggregate_id, overdue_key=key)

    @handles(RevisitPolicy.Configured, RevisitPolicy.Reconfigured)
    def policy_configured(self, s, r: Recorded) -> None:
        for grade, days in r.event.days.items():
            s["policy"].put({"grade": grade, "days": days})


REVISITS = RevisitsProjection()


# -- queries ---------------------------------------------------------------------------------------
def policy_days(tx: Tx) -> dict[str, int]:
    t = active_tables(tx, REVISITS)
    return {**DEFAULT_REVISIT_DAYS, **{g: int(d) for g, d in tx.all(f"SELECT grade, days FROM {t['policy']}")}}


def _item(row: dict[str, Any], days: dict[str, int], as_of: date) -> dict[str, Any]:
    due = date.fromisoformat(row["base_on"]) + timedelta(days=days[row["grade"]])
    return {
        "customer_id": row["customer_id"],
        "name": row["name"],
        "owner_id": row["owner_id"],
        "grade": row["grade"],
        "days": days[row["grade"]],
        "last_visit_on": row["last_visit_on"],
        "next_revisit_due": due,
        "status": "overdue" if due < as_of else "due",
        "days_overdue": max((as_of - due).days, 0),
    }


def revisit_list(
    tx: Tx,
    *,
    as_of: date,
    status: str | None = None,
    within_days: int = 7,
    owner_id: str | None = None,
    visible_to: Collection[str] | None = None,
    limit: int = 500,
) -> dict[str, Any]:
    """Customers whose next revisit is overdue (due before `as_of`) or due (from `as_of` to
    `within_days` after it), soonest first; with `visible_to`, only those reps' customers."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of: {', '.join(STATUSES)}", field="status")
    t = active_tables(tx, REVISITS)
    days = policy_days(tx)
    found: list[dict[str, Any]] = []
    for grade, n in days.items():
        # next due = base_on + n: overdue when base_on < as_of - n; due when within [as_of, as_of + within]
        low = None if status != "due" else (as_of - timedelta(days=n)).isoformat()
        high = (as_of - timedelta(days=n)) if status == "overdue" else (as_of + timedelta(days=within_days - n))
        where = ["grade = ?", "lifecycle <> 'churned'", "base_on < ?" if status == "overdue" else "base_on <= ?"]
        params: list[Any] = [grade, high.isoformat()]
        if low is not None:
            where.append("base_on >= ?")
            params.append(low)
        if owner_id is not None:
            where.append("owner_id = ?")
            params.append(owner_id)
        if visible_to is not None:
            owners = sorted(visible_to)
            where.append(f"owner_id IN ({', '.join('?' * len(owners))})" if owners else "1 = 0")
            params += owners
        rows = tx.all(
            f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM {t['customers']} WHERE {' AND '.join(where)} "
            f"ORDER BY base_on, customer_id LIMIT ?",
            [*params, limit],
        )
        found += [_item(dict(zip(CUSTOMER_COLUMNS, row, strict=True)), days, as_of) for row in rows]
    found.sort(key=lambda i: (i["next_revisit_due"], i["customer_id"]))
    return {
        "as_of": as_of,
        "status": status,
        "within_days": within_days,
        "policy": days,
        "items": found[:limit],
        "truncated": len(found) > limit,
    }


def customer_revisit(tx: Tx, customer_id: str, as_of: date) -> dict[str, Any] | None:
    """The customer's revisit plan (for Customer 360); None for an unknown, ungraded or churned one."""
    t = active_tables(tx, REVISITS)
    row = tx.one(f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM {t['customers']} WHERE customer_id = ?", (customer_id,))
    if row is None:
        return None
    customer = dict(zip(CUSTOMER_COLUMNS, row, strict=True))
    if customer["grade"] is None or customer["lifecycle"] == "churned":
        return None
    return _item(customer, policy_days(tx), as_of)


def overdue_revisits(tx: Tx, *, as_of: date) -> list[dict[str, Any]]:
    """Customers whose revisit is overdue on `as_of` and not yet recorded overdue (the check's work)."""
    t = active_tables(tx, REVISITS)
    days = policy_days(tx)
    found: list[dict[str, Any]] = []
    for grade, n in days.items():
        rows = tx.all(
            f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM {t['customers']} WHERE grade = ? AND lifecycle <> 'churned' "
            f"AND base_on < ? AND overdue_key IS NULL ORDER BY customer_id",
            [grade, (as_of - timedelta(days=n)).isoformat()],
        )
        found += [_item(dict(zip(CUSTOMER_COLUMNS, row, strict=True)), days, as_of) for row in rows]
    return sorted(found, key=lambda i: i["customer_id"])


def revisit_adherence(
    tx: Tx, *, period: Period, scope: str = "company", org: OrgHistory | None = None
) -> dict[str, Any]:
    """Of the revisits that fell due in `period` (owner in `scope` on the due date) and were done
    or recorded overdue: how many were done by their due date, and that share (None when none)."""
    t = active_tables(tx, REVISITS)
    org = org or OrgHistory.of(tx)
    company = scope == "company"  # every revisit, whoever owns it
    owners, ever = ("", []) if company else ever_in_clause(tx, org, scope, "owner_id")  # a team's: only theirs
    placement = Placement(tx, [scope], org)  # each owner placed once per month, day by day if they moved in it
    on_time = missed = 0
    for owner, due_on, state in tx.all(
        f"SELECT owner_id, due_on, state FROM {t['due']} WHERE due_on >= ? AND due_on <= ? AND state <> 'open'{owners}",
        [period.start.isoformat(), period.end.isoformat(), *ever],
    ):
        if not company and not owner:
            continue
        if not company and not (placement.month(owner, due_on[:7]) or placement.on(owner, date.fromisoformat(due_on))):
            continue
        if state == "on_time":
            on_time += 1
        else:
            missed += 1
    rate: Decimal | None = fraction(on_time, on_time + missed)
    return {"on_time": on_time, "late_or_overdue": missed, "rate": rate}
