"""Performance assessment (绩效考核) and training programmes: schemes by version, customers'
satisfaction feedback per rep, finalized scorecards, improvement plans and programmes.

A live scorecard is computed per request from prepared rows only: the KPI read model's totals
of the period (projections.performance.member_totals), the targets in force, the deals signed
in the period (projections.accounts, for the collection rate), the rep's review of the period
(projections.staff) and the feedback rows kept here. A finalized scorecard is the frozen row of
its `AssessmentRoundScorecardFrozen` event, never recomputed."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.assessment import (
    ATTAINMENT_METRICS,
    AssessmentRound,
    AssessmentScheme,
    ImprovementPlan,
    TrainingProgramme,
    evaluate,
    in_audience,
)
from domain.customer import Customer
from domain.deal import Deal
from domain.receivables import billed, collection_rate, kept
from domain.target import parse_scope
from domain.values import Period
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables
from projections.kpi import KPI, reliefs
from projections.money import fraction, from_cents, to_cents
from projections.org import OrgHistory
from projections.performance import member_totals
from projections.staff import STAFF, training_hours
from projections.targets import targets_in_force

SCHEME_COLUMNS = ("k", "scheme_id", "version", "period_kind", "effective_from", "body", "position")
FEEDBACK_COLUMNS = ("position", "customer_id", "rep_id", "given_on", "score")
FROZEN_COLUMNS = (
    "k",
    "scheme_id",
    "scheme_version",
    "period",
    "rep_id",
    "grade",
    "score",
    "digest",
    "scorecard",
    "position",
    "finalized_on",
)
PLAN_COLUMNS = (
    "plan_id",
    "rep_id",
    "period",
    "causes",
    "actions",
    "due_on",
    "manager_id",
    "recorded_on",
    "done_on",
    "outcome",
    "position",
)
PROGRAMME_COLUMNS = ("programme_id", "position", "body")
ATTAINMENT_PREFIX, ATTAINMENT_SUFFIX = "kpi:", "_attainment"


class AssessmentsProjection(Projection):
    name = "assessments"
    version = 2  # 2: deals' money by store position, for the collection rate as it stood at a finalization
    tables = {
        "schemes": [
            """CREATE TABLE IF NOT EXISTS {schemes} (
            k TEXT PRIMARY KEY, scheme_id TEXT NOT NULL, version INTEGER NOT NULL, period_kind TEXT NOT NULL,
            effective_from TEXT NOT NULL, body TEXT NOT NULL, position BIGINT NOT NULL)"""
        ],
        "customers": ["CREATE TABLE IF NOT EXISTS {customers} (customer_id TEXT PRIMARY KEY, owner_id TEXT)"],
        "feedback": [
            """CREATE TABLE IF NOT EXISTS {feedback} (
            position BIGINT PRIMARY KEY, customer_id TEXT NOT NULL, rep_id TEXT, given_on TEXT NOT NULL,
            score INTEGER NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {feedback}_rep ON {feedback} (rep_id, given_on)",
        ],
        "frozen": [
            """CREATE TABLE IF NOT EXISTS {frozen} (
            k TEXT PRIMARY KEY, scheme_id TEXT NOT NULL, scheme_version INTEGER NOT NULL, period TEXT NOT NULL,
            rep_id TEXT NOT NULL, grade TEXT, score TEXT NOT NULL, digest TEXT NOT NULL, scorecard TEXT NOT NULL,
            position BIGINT NOT NULL, finalized_on TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {frozen}_period ON {frozen} (period, rep_id)",
        ],
        "plans": [
            """CREATE TABLE IF NOT EXISTS {plans} (
            plan_id TEXT PRIMARY KEY, rep_id TEXT NOT NULL, period TEXT NOT NULL, causes TEXT NOT NULL,
            actions TEXT NOT NULL, due_on TEXT NOT NULL, manager_id TEXT NOT NULL, recorded_on TEXT NOT NULL,
            done_on TEXT, outcome TEXT, position BIGINT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {plans}_rep ON {plans} (rep_id, period)",
            "CREATE INDEX IF NOT EXISTS {plans}_due ON {plans} (done_on, due_on)",
        ],
        "programmes": [
            """CREATE TABLE IF NOT EXISTS {programmes} (
            programme_id TEXT PRIMARY KEY, position BIGINT NOT NULL, body TEXT NOT NULL)"""
        ],
        "deals": [
            """CREATE TABLE IF NOT EXISTS {deals} (
            deal_id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, signed_on TEXT)""",
            "CREATE INDEX IF NOT EXISTS {deals}_signed ON {deals} (signed_on)",
        ],
        "money": [
            """CREATE TABLE IF NOT EXISTS {money} (
            position BIGINT PRIMARY KEY, deal_id TEXT NOT NULL, kind TEXT NOT NULL, cents BIGINT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {money}_deal ON {money} (deal_id, position)",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        return {
            "schemes": Rows(tx, tables["schemes"], "k", SCHEME_COLUMNS),
            "customers": Rows(tx, tables["customers"], "customer_id", ("customer_id", "owner_id")),
            "feedback": Rows(tx, tables["feedback"], "position", FEEDBACK_COLUMNS),
            "frozen": Rows(tx, tables["frozen"], "k", FROZEN_COLUMNS),
            "plans": Rows(tx, tables["plans"], "plan_id", PLAN_COLUMNS),
            "programmes": Rows(tx, tables["programmes"], "programme_id", PROGRAMME_COLUMNS),
            "deals": Rows(tx, tables["deals"], "deal_id", ("deal_id", "owner_id", "signed_on")),
            "money": Rows(tx, tables["money"], "position", ("position", "deal_id", "kind", "cents")),
        }

    # deals: what they were billed and what they brought in, one row per event, by store position
    @handles(Deal.Opened)
    def deal_opened(self, s: dict[str, Rows], r: Recorded) -> None:
        s["deals"].put({"deal_id": r.aggregate_id, "owner_id": r.event.owner_id, "signed_on": None})

    def _money(self, s: dict[str, Rows], r: Recorded, kind: str, amount: Any) -> None:
        if s["deals"].get(r.aggregate_id) is not None:
            s["money"].put({"position": r.position, "deal_id": r.aggregate_id, "kind": kind, "cents": to_cents(amount)})

    @handles(Deal.Won)
    def deal_won(self, s: dict[str, Rows], r: Recorded) -> None:
        s["deals"].update(r.aggregate_id, signed_on=r.event.signed_on.isoformat())
        self._money(s, r, "signed", r.event.amount)

    @handles(Deal.PaymentReceived)
    def deal_payment_received(self, s: dict[str, Rows], r: Recorded) -> None:
        self._money(s, r, "collected", r.event.amount)

    @handles(Deal.Refunded)
    def deal_refunded(self, s: dict[str, Rows], r: Recorded) -> None:
        kind = "cancelled" if getattr(r.event, "kind", "refund") == "cancellation" else "refunded"
        self._money(s, r, kind, r.event.amount)

    @staticmethod
    def _scheme(s: dict[str, Rows], r: Recorded, version: int, body: dict[str, Any]) -> None:
        s["schemes"].put(
            {
                "k": f"{r.aggregate_id}|{version:06d}",
                "scheme_id": r.aggregate_id,
                "version": version,
                "period_kind": body["period"],
                "effective_from": body["effective_from"],
                "body": json.dumps(body, ensure_ascii=False),
                "position": r.position,
            }
        )

    @handles(AssessmentScheme.Created)
    def scheme_created(self, s: dict[str, Rows], r: Recorded) -> None:
        self._scheme(s, r, 1, r.event.body)

    @handles(AssessmentScheme.Versioned)
    def scheme_versioned(self, s: dict[str, Rows], r: Recorded) -> None:
        self._scheme(s, r, r.event.version, r.event.body)

    @handles(Customer.Registered)
    def customer_registered(self, s: dict[str, Rows], r: Recorded) -> None:
        s["customers"].put({"customer_id": r.aggregate_id, "owner_id": r.event.owner_id})

    @handles(Customer.OwnerTransferred)
    def customer_owner_transferred(self, s: dict[str, Rows], r: Recorded) -> None:
        s["customers"].update(r.aggregate_id, owner_id=r.event.to_owner)

    @handles(Customer.FeedbackGiven)
    def feedback_given(self, s: dict[str, Rows], r: Recorded) -> None:
        """Satisfaction counts for the rep the feedback names, else the customer's owner then."""
        e = r.event
        owner = (s["customers"].get(r.aggregate_id) or {}).get("owner_id")
        s["feedback"].put(
            {
                "position": r.position,
                "customer_id": r.aggregate_id,
                "rep_id": e.rep_id or owner,
                "given_on": e.given_on.isoformat(),
                "score": int(e.score),
            }
        )

    @handles(AssessmentRound.ScorecardFrozen)
    def scorecard_frozen(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        card = e.scorecard
        s["frozen"].put(
            {
                "k": f"{e.scheme_id}|{e.period}|{e.rep_id}",
                "scheme_id": e.scheme_id,
                "scheme_version": int(card.get("scheme_version", 0)),
                "period": e.period,
                "rep_id": e.rep_id,
                "grade": e.grade,
                "score": e.score,
                "digest": e.digest,
                "scorecard": json.dumps(card, ensure_ascii=False, sort_keys=True),
                "position": r.position,
                "finalized_on": str(card.get("finalized_on", "")),
            }
        )

    @handles(ImprovementPlan.Recorded)
    def plan_recorded(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        s["plans"].put(
            {
                "plan_id": r.aggregate_id,
                "rep_id": e.rep_id,
                "period": e.period,
                "causes": e.causes,
                "actions": e.actions,
                "due_on": e.due_on.isoformat(),
                "manager_id": e.manager_id,
                "recorded_on": e.recorded_on.isoformat(),
                "done_on": None,
                "outcome": None,
                "position": r.position,
            }
        )

    @handles(ImprovementPlan.Completed)
    def plan_completed(self, s: dict[str, Rows], r: Recorded) -> None:
        s["plans"].update(r.aggregate_id, done_on=r.event.on.isoformat(), outcome=r.event.outcome)

    @handles(TrainingProgramme.Created)
    def programme_created(self, s: dict[str, Rows], r: Recorded) -> None:
        s["programmes"].put(
            {
                "programme_id": r.aggregate_id,
                "position": r.position,
                "body": json.dumps(r.event.body, ensure_ascii=False),
            }
        )


ASSESSMENTS = AssessmentsProjection()
READ_MODELS = ("org", "kpi", "targets", "staff", "assessments")
ALL = 2**62  # a store position beyond any


# -- schemes ----------------------------------------------------------------------------------
def _scheme_rows(tx: Tx, where: str = "", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    t = active_tables(tx, ASSESSMENTS)
    rows = tx.all(
        f"SELECT scheme_id, version, body FROM {t['schemes']} {where} ORDER BY scheme_id, version", list(params)
    )
    return [{"scheme_id": sid, "version": int(v), **json.loads(body)} for sid, v, body in rows]


def scheme(tx: Tx, scheme_id: str) -> dict[str, Any] | None:
    """The scheme with every version, or None."""
    versions = _scheme_rows(tx, "WHERE scheme_id = ?", (scheme_id,))
    if not versions:
        return None
    return {"id": scheme_id, "name": versions[-1]["name"], "period": versions[-1]["period"], "versions": versions}


def schemes_for(tx: Tx, period: Period, scheme_id: str | None = None) -> list[dict[str, Any]]:
    """The schemes of the period's kind (month, quarter, year), each at the version in force on
    the period's last day; schemes not yet in force then are left out."""
    where, params = "WHERE period_kind = ? AND effective_from <= ?", [period.kind, period.end.isoformat()]
    if scheme_id is not None:
        where += " AND scheme_id = ?"
        params.append(scheme_id)
    in_force: dict[str, dict[str, Any]] = {}
    for row in _scheme_rows(tx, where, params):
        in_force[row["scheme_id"]] = row  # ordered by version: the last one is in force
    return list(in_force.values())


def list_schemes(tx: Tx) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for row in _scheme_rows(tx):
        latest[row["scheme_id"]] = row
    return list(latest.values())


# -- the inputs of a scorecard ----------------------------------------------------------------
def satisfaction(tx: Tx, rep_ids: Collection[str], period: Period, *, until: int = 2**62) -> dict[str, dict[str, Any]]:
    """Per rep: the customers' feedback of the period (given_on in it), its count and average
    score (2 decimals, ROUND_HALF_UP) and the store positions of the feedback events."""
    if not rep_ids:
        return {}
    t = active_tables(tx, ASSESSMENTS)
    found: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for rep, score, position in tx.all(
        f"SELECT rep_id, score, position FROM {t['feedback']} WHERE rep_id IN ({', '.join('?' * len(rep_ids))}) "
        "AND given_on >= ? AND given_on <= ? AND position <= ? ORDER BY position",
        [*rep_ids, period.start.isoformat(), period.end.isoformat(), until],
    ):
        found[rep].append((int(score), int(position)))
    return {
        rep: {
            "feedback": len(items),
            "average": (Decimal(sum(s for s, _ in items)) / len(items)).quantize(Decimal("0.01"), ROUND_HALF_UP),
            "positions": [p for _, p in items],
        }
        for rep, items in found.items()
    }


def _collection(tx: Tx, org: OrgHistory, period: Period, until: int) -> dict[str, dict[str, Any]]:
    """Per owner: the deals signed in the period (owner on the signing date), billed (signed less
    cancelled) and kept (collected less refunded), as recorded up to store position `until`, and
    the collection rate: the figure GET /kpis?scope=rep:ID answers (projections.accounts)."""
    t = active_tables(tx, ASSESSMENTS)
    sums: dict[str, dict[str, int]] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    for deal, owner, signed_on, kind, cents in tx.all(
        f"SELECT d.deal_id, d.owner_id, d.signed_on, m.kind, m.cents FROM {t['deals']} d "
        f"JOIN {t['money']} m ON m.deal_id = d.deal_id "
        "WHERE d.signed_on >= ? AND d.signed_on <= ? AND m.position <= ? ORDER BY m.position",
        [period.start.isoformat(), period.end.isoformat(), until],
    ):
        if org.attrs(owner, date.fromisoformat(signed_on)) is None:
            continue
        acc = sums.setdefault(owner, {"signed": 0, "cancelled": 0, "collected": 0, "refunded": 0})
        acc[kind] += int(cents)
        if kind == "signed":
            seen[owner].add(deal)
    found = {}
    for rep, acc in sums.items():
        if not seen[rep]:  # money recorded before the win (as of `until`): not yet a signed deal
            continue
        due, cash = billed(acc["signed"], acc["cancelled"]), kept(acc["collected"], acc["refunded"])
        found[rep] = {
            "deals": len(seen[rep]),
            "billed": from_cents(due),
            "kept": from_cents(cash),
            "rate": collection_rate(cash, due),
        }
    return found


def _reviews(tx: Tx, reps: Collection[str], period: Period, until: int) -> dict[str, dict[str, Any]]:
    """Each rep's review of the period (the staff read model's rows), as recorded up to `until`;
    the latest recorded when there were several."""
    t = active_tables(tx, STAFF)
    found: dict[str, dict[str, Any]] = {}
    wanted = sorted(reps)
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        for rep, position, rating, reviewer, reviewed_on in tx.all(
            f"SELECT rep_id, position, rating, reviewer_id, reviewed_on FROM {t['reviews']} "
            f"WHERE period = ? AND position <= ? AND rep_id IN ({', '.join('?' * len(part))}) ORDER BY position",
            [period.label, until, *part],
        ):
            found[rep] = {
                "position": int(position),
                "rating": int(rating),
                "reviewer_id": reviewer,
                "reviewed_on": reviewed_on,
            }
    return found


def _rep_totals(
    tx: Tx, org: OrgHistory, reps: Collection[str], period: Period, until: int
) -> dict[str, dict[str, Any]]:
    """Per rep, each metric's total of the KPI facts of the period recorded up to `until`, each
    counted while the rep was in the organisation (leads contacted: distinct leads)."""
    t = active_tables(tx, KPI)
    totals: dict[str, dict[str, list[int]]] = {}
    subjects: set[tuple[str, str]] = set()
    for rep in reps:
        acc = totals.setdefault(rep, {m: [0, 0] for m in ATTAINMENT_METRICS})
        for day, metric, subject, cents, qty in tx.all(
            f"SELECT day, metric, customer_id, amount_cents, qty FROM {t['facts']} WHERE rep_id = ? AND day >= ? "
            "AND day <= ? AND position <= ? ORDER BY position",
            [rep, period.start.isoformat(), period.end.isoformat(), until],
        ):
            if metric not in acc or not org.in_scope(rep, date.fromisoformat(day), "company"):
                continue
            if metric == "leads_contacted":
                if (rep, subject) in subjects:
                    continue
                subjects.add((rep, subject))
            acc[metric][0] += int(cents)
            acc[metric][1] += int(qty)
    return {rep: {m: from_cents(c) if m in _MONEY else q for m, (c, q) in by.items()} for rep, by in totals.items()}


class Inputs:
    """What the scorecards of a set of reps for one period are read from, read once: as things
    are now, or (with `until_position`) as they had been recorded up to that store position."""

    def __init__(
        self, tx: Tx, org: OrgHistory, period: Period, reps: Collection[str], until_position: int | None = None
    ) -> None:
        self.tx, self.period, self.reps, self.until = tx, period, list(reps), until_position
        until = ALL if until_position is None else until_position
        if not self.reps:
            self.totals: dict[str, dict[str, Any]] = {}
        elif until_position is None:  # the maintained monthly totals, as GET /kpis reads them
            self.totals = member_totals(tx, scope="company", period=period, metrics=ATTAINMENT_METRICS)
        else:
            self.totals = _rep_totals(tx, org, self.reps, period, until)
        self.targets = targets_in_force(tx, until_position=until_position)
        self.reliefs = reliefs(tx, period, None if until_position is None else until) if self.reps else {}
        self.collection = _collection(tx, org, period, until) if self.reps else {}
        self.satisfaction = satisfaction(tx, self.reps, period, until=until)
        self.reviews = _reviews(tx, self.reps, period, until)

    def value(self, rep: str, source: str) -> tuple[Decimal | None, dict[str, Any]]:
        """The indicator value and what it was read from (with `missing` saying why when absent)."""
        if source.startswith(ATTAINMENT_PREFIX) and source.endswith(ATTAINMENT_SUFFIX):
            metric = source[len(ATTAINMENT_PREFIX) : -len(ATTAINMENT_SUFFIX)]
            actual = self.totals.get(rep, {}).get(metric, Decimal("0.00") if metric in _MONEY else 0)
            target, target_source = self.targets.get(self.period, metric, f"rep:{rep}")
            relieved = self.reliefs.get(rep, {}).get(metric)
            attainment = fraction(Decimal(actual) + relieved if relieved else actual, target)
            read = {
                "read_model": "kpi",
                "metric": metric,
                "actual": actual,
                "target": target,
                "target_source": target_source,
                "attainment": attainment,
            }
            if relieved:
                read["relief"] = relieved  # quota relief counts toward attainment
            if target is None:
                read["missing"] = f"no {metric} target for rep:{rep} in {self.period.label}"
            elif attainment is None:
                read["missing"] = f"the {metric} target for {self.period.label} is zero"
            return attainment, read
        if source == "kpi:collection_rate":
            found = self.collection.get(rep)
            zero = Decimal("0.00")
            read = {"read_model": "assessments.deals", "deals_signed": 0, "billed": zero, "kept": zero, "rate": None}
            if found:
                read.update(deals_signed=found["deals"], billed=found["billed"], kept=found["kept"], rate=found["rate"])
            if read["rate"] is None:
                read["missing"] = f"nothing billed on deals signed in {self.period.label}"
            return read["rate"], read
        if source == "kpi:satisfaction":
            got = self.satisfaction.get(rep)
            if got is None:
                return None, {
                    "read_model": "assessments.feedback",
                    "feedback": 0,
                    "missing": f"no customer feedback in {self.period.label}",
                }
            return got["average"], {"read_model": "assessments.feedback", **got}
        if source == "review:rating":
            review = self.reviews.get(rep)
            if review is None:
                return None, {"read_model": "staff", "missing": f"no review for {self.period.label}"}
            return Decimal(review["rating"]), {
                "read_model": "staff",
                "event": "RepReviewed",
                "position": review["position"],
                "reviewer_id": review["reviewer_id"],
                "reviewed_on": review["reviewed_on"],
                "rating": review["rating"],
            }
        raise ValueError(f"unknown indicator source {source}")  # pragma: no cover -- schemes are validated


_MONEY = frozenset({"revenue", "gross_margin", "collections"})


def scorecard(inputs: Inputs, scheme_row: dict[str, Any], rep: str, name: str | None) -> dict[str, Any]:
    """One rep's scorecard under one scheme version: each indicator's value, points, weight and
    what the value was read from; the score and the grade."""
    values: dict[str, Decimal | None] = {}
    read: dict[str, dict[str, Any]] = {}
    for ind in scheme_row["indicators"]:
        values[ind["key"]], read[ind["key"]] = inputs.value(rep, ind["source"])
    result = evaluate(scheme_row, values)
    indicators = []
    for ind, row in zip(scheme_row["indicators"], result["indicators"], strict=True):
        item = {
            "key": ind["key"],
            "source": ind["source"],
            "value": row["value"],
            "points": row["points"],
            "weight": row["weight"],
            "zero_at": ind["zero_at"],
            "full_at": ind["full_at"],
            "cap": ind["cap"],
            "read_from": read[ind["key"]],
        }
        if "missing" in read[ind["key"]]:
            item["missing"] = read[ind["key"]]["missing"]
        indicators.append(item)
    return {
        "scheme_id": scheme_row["scheme_id"],
        "scheme_version": scheme_row["version"],
        "period": inputs.period.label,
        "rep_id": rep,
        "name": name,
        "score": result["score"],
        "grade": result["grade"],
        "indicators": indicators,
    }


def audience(
    org: OrgHistory, scheme_row: dict[str, Any], period: Period, on: date, scope: str = "company"
) -> list[str]:
    """Reps assessed by the scheme for the period: in its audience and in `scope` on `on` (the
    period's last day, or today while it runs), active at the period's start or on `on`."""
    scope = parse_scope(scope)
    found = []
    for rep in sorted(org.timelines):
        attrs = org.attrs(rep, on)
        if not attrs or not org.in_scope(rep, on, scope):
            continue
        if not any((org.attrs(rep, d) or {}).get("status") == "active" for d in (period.start, on)):
            continue
        if in_audience(scheme_row["applies_to"], attrs):
            found.append(rep)
    return found


# -- finalized scorecards -----------------------------------------------------------------------
def _frozen_row(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(FROZEN_COLUMNS, row, strict=True))
    item["scorecard"] = json.loads(item["scorecard"])
    return item


def frozen(tx: Tx, period: str, *, rep_id: str | None = None, scheme_id: str | None = None) -> list[dict[str, Any]]:
    """The frozen scorecards of a finalized period (of one rep, of one scheme when given)."""
    t = active_tables(tx, ASSESSMENTS)
    sql, params = f"SELECT {', '.join(FROZEN_COLUMNS)} FROM {t['frozen']} WHERE period = ?", [period]
    for column, value in (("rep_id", rep_id), ("scheme_id", scheme_id)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    return [_frozen_row(r) for r in tx.all(sql + " ORDER BY scheme_id, rep_id", params)]


def finalized_grade(tx: Tx, scheme_id: str, period_label: str, rep_id: str) -> dict[str, Any] | None:
    """The grade a rep got when `scheme_id`'s assessment of `period_label` ("2026-Q1", "2026-03",
    "2026") was finalized: {"scheme_id", "scheme_version", "period", "rep_id", "grade", "score"
    (Decimal), "digest", "position", "finalized_on"}, or None when that period is not finalized
    for the scheme or the rep was not assessed. `grade` may itself be None (no grade reached)."""
    t = active_tables(tx, ASSESSMENTS)
    row = tx.one(
        f"SELECT {', '.join(FROZEN_COLUMNS)} FROM {t['frozen']} WHERE k = ?", (f"{scheme_id}|{period_label}|{rep_id}",)
    )
    if row is None:
        return None
    item = _frozen_row(row)
    item.pop("k")
    item.pop("scorecard")
    item["score"] = Decimal(item["score"])
    return item


# -- improvement plans ---------------------------------------------------------------------------
def _plan(row: Sequence[Any], today: date | None = None) -> dict[str, Any]:
    item = dict(zip(PLAN_COLUMNS, row, strict=True))
    item["id"] = item.pop("plan_id")
    item["status"] = (
        "done"
        if item["done_on"]
        else ("overdue" if today is not None and item["due_on"] < today.isoformat() else "open")
    )
    return item


def improvement_plans(tx: Tx, rep_id: str, period: str | None = None, *, today: date | None = None) -> list[dict]:
    t = active_tables(tx, ASSESSMENTS)
    sql, params = f"SELECT {', '.join(PLAN_COLUMNS)} FROM {t['plans']} WHERE rep_id = ?", [rep_id]
    if period is not None:
        sql += " AND period = ?"
        params.append(period)
    return [_plan(r, today) for r in tx.all(sql + " ORDER BY due_on, position", params)]


def plans_by_status(
    tx: Tx, *, status: str | None, today: date, rep_ids: Collection[str] | None = None, manager_id: str | None = None
) -> list[dict[str, Any]]:
    """Improvement plans by status (open: not done, not yet due; overdue: not done, due before
    `today`; done), of the reps in `rep_ids` (None: all) or recorded by `manager_id`."""
    t = active_tables(tx, ASSESSMENTS)
    where: list[str] = []
    params: list[Any] = []
    if status == "done":
        where.append("done_on IS NOT NULL")
    elif status == "overdue":
        where += ["done_on IS NULL", "due_on < ?"]
        params.append(today.isoformat())
    elif status == "open":
        where += ["done_on IS NULL", "due_on >= ?"]
        params.append(today.isoformat())
    if rep_ids is not None:
        if not rep_ids:
            return []
        where.append(f"rep_id IN ({', '.join('?' * len(rep_ids))})")
        params += list(rep_ids)
    sql = f"SELECT {', '.join(PLAN_COLUMNS)} FROM {t['plans']}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [_plan(r, today) for r in tx.all(sql + " ORDER BY due_on, position", params)]


# -- training programmes -------------------------------------------------------------------------
def programme(tx: Tx, programme_id: str) -> dict[str, Any] | None:
    t = active_tables(tx, ASSESSMENTS)
    row = tx.one(f"SELECT body, position FROM {t['programmes']} WHERE programme_id = ?", (programme_id,))
    if row is None:
        return None
    return {"id": programme_id, **json.loads(row[0]), "position": int(row[1])}


def programme_report(tx: Tx, programme_id: str, *, on: date) -> dict[str, Any] | None:
    """Each rep in the programme's audience (on `on`: the due date, or today before it) with the
    hours of the programme's topic completed by `due_by` (inclusive), `complete` and `short_by`."""
    found = programme(tx, programme_id)
    if found is None:
        return None
    org = OrgHistory.of(tx)
    due_by = date.fromisoformat(found["due_by"])
    required = Decimal(found["required_hours"])
    reps = []
    for rep in sorted(org.timelines):
        attrs = org.attrs(rep, on)
        if not attrs or attrs.get("status") != "active" or not in_audience(found["audience"], attrs):
            continue
        done = training_hours(tx, rep, up_to=due_by)[found["topic"]]
        reps.append(
            {
                "rep_id": rep,
                "name": org.names.get(rep),
                "level": attrs["level"],
                "team": attrs["team"],
                "hours_done": done,
                "required_hours": required,
                "complete": done >= required,
                "short_by": max(required - done, Decimal("0.00")),
            }
        )
    reps.sort(key=lambda r: (r["complete"], -r["short_by"], r["name"] or "", r["rep_id"]))
    return {
        **found,
        "as_of": on,
        "items": reps,
        "complete": sum(1 for r in reps if r["complete"]),
        "short": sum(1 for r in reps if not r["complete"]),
    }
