"""Channel partners and the development of staff: partners, trainings, periodic reviews and
recognitions, one row per event, keyed by store position.

The queries here answer per rep (reviews of a period, training hours by topic up to a date) and
per set of reps (a partner's staff) from these rows only; the partner scorecard
(projections.partners) adds the KPIs of the partner's scope."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from domain.partner import Partner, TrainingTopic
from domain.rep import Rep
from domain.values import Period
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables

PARTNER_COLUMNS = ("partner_id", "position", "name", "kind", "region", "registered_on")
TRAINING_COLUMNS = ("position", "rep_id", "course", "topic", "completed_on", "hours", "score")
REVIEW_COLUMNS = (
    "position",
    "rep_id",
    "period",
    "period_start",
    "period_end",
    "rating",
    "strengths",
    "improvements",
    "reviewer_id",
    "reviewed_on",
)
RECOGNITION_COLUMNS = ("position", "rep_id", "title", "awarded_on", "reason")


class StaffProjection(Projection):
    name = "staff"
    version = 1
    tables = {
        "partners": [
            """CREATE TABLE IF NOT EXISTS {partners} (
            partner_id TEXT PRIMARY KEY, position BIGINT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
            region TEXT NOT NULL, registered_on TEXT)"""
        ],
        "trainings": [
            """CREATE TABLE IF NOT EXISTS {trainings} (
            position BIGINT PRIMARY KEY, rep_id TEXT NOT NULL, course TEXT NOT NULL, topic TEXT NOT NULL,
            completed_on TEXT NOT NULL, hours TEXT NOT NULL, score TEXT)""",
            "CREATE INDEX IF NOT EXISTS {trainings}_rep ON {trainings} (rep_id, completed_on)",
        ],
        "reviews": [
            """CREATE TABLE IF NOT EXISTS {reviews} (
            position BIGINT PRIMARY KEY, rep_id TEXT NOT NULL, period TEXT NOT NULL, period_start TEXT NOT NULL,
            period_end TEXT NOT NULL, rating INTEGER NOT NULL, strengths TEXT NOT NULL, improvements TEXT NOT NULL,
            reviewer_id TEXT NOT NULL, reviewed_on TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {reviews}_rep ON {reviews} (rep_id, period_end)",
        ],
        "recognitions": [
            """CREATE TABLE IF NOT EXISTS {recognitions} (
            position BIGINT PRIMARY KEY, rep_id TEXT NOT NULL, title TEXT NOT NULL, awarded_on TEXT NOT NULL,
            reason TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS {recognitions}_rep ON {recognitions} (rep_id, awarded_on)",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        return {
            "partners": Rows(tx, tables["partners"], "partner_id", PARTNER_COLUMNS),
            "trainings": Rows(tx, tables["trainings"], "position", TRAINING_COLUMNS),
            "reviews": Rows(tx, tables["reviews"], "position", REVIEW_COLUMNS),
            "recognitions": Rows(tx, tables["recognitions"], "position", RECOGNITION_COLUMNS),
        }

    @handles(Partner.Registered)
    def partner_registered(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        s["partners"].put(
            {
                "partner_id": r.aggregate_id,
                "position": r.position,
                "name": e.name,
                "kind": e.kind,
                "region": e.region,
                "registered_on": e.registered_on.isoformat() if e.registered_on else None,
            }
        )

    @handles(Rep.TrainingRecorded)
    def training_recorded(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        s["trainings"].put(
            {
                "position": r.position,
                "rep_id": r.aggregate_id,
                "course": e.course,
                "topic": e.topic,
                "completed_on": e.completed_on.isoformat(),
                "hours": str(e.hours),
                "score": None if e.score is None else str(e.score),
            }
        )

    @handles(Rep.Reviewed)
    def reviewed(self, s: dict[str, Rows], r: Recorded) -> None:
        e, period = r.event, Period.parse(r.event.period)
        s["reviews"].put(
            {
                "position": r.position,
                "rep_id": r.aggregate_id,
                "period": e.period,
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
                "rating": e.rating,
                "strengths": e.strengths,
                "improvements": e.improvements,
                "reviewer_id": e.reviewer_id,
                "reviewed_on": e.reviewed_on.isoformat(),
            }
        )

    @handles(Rep.Recognised)
    def recognised(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        s["recognitions"].put(
            {
                "position": r.position,
                "rep_id": r.aggregate_id,
                "title": e.title,
                "awarded_on": e.awarded_on.isoformat(),
                "reason": e.reason,
            }
        )


STAFF = StaffProjection()


# -- queries ---------------------------------------------------------------------------------------
def _marks(values: Collection[Any]) -> str:
    return ", ".join("?" * len(values))


def partner(tx: Tx, partner_id: str) -> dict[str, Any] | None:
    """The partner's registration (id, name, kind, region, registered_on), or None."""
    t = active_tables(tx, STAFF)
    row = tx.one(f"SELECT {', '.join(PARTNER_COLUMNS)} FROM {t['partners']} WHERE partner_id = ?", (partner_id,))
    if row is None:
        return None
    found = dict(zip(PARTNER_COLUMNS, row, strict=True))
    found.pop("position")
    return found


def list_partners(
    tx: Tx, *, after: str | None = None, limit: int = 50, kind: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """Partners by id with keyset paging (`next` is the id to pass as `after`), filtered by kind and region."""
    t = active_tables(tx, STAFF)
    where, params = ["partner_id > ?"], [after or ""]
    for column, value in (("kind", kind), ("region", region)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    rows = tx.all(
        f"SELECT partner_id, name, kind, region, registered_on FROM {t['partners']} "
        f"WHERE {' AND '.join(where)} ORDER BY partner_id LIMIT ?",
        [*params, limit + 1],
    )
    items = [dict(zip(("partner_id", "name", "kind", "region", "registered_on"), r, strict=True)) for r in rows]
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": items[-1]["partner_id"] if more else None}


def _training(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(TRAINING_COLUMNS, row, strict=True))
    item["hours"] = Decimal(item["hours"])
    item["score"] = None if item["score"] is None else Decimal(item["score"])
    return item


def _review(row: Sequence[Any]) -> dict[str, Any]:
    item = dict(zip(REVIEW_COLUMNS, row, strict=True))
    item.pop("period_start")
    item.pop("period_end")
    return item


def trainings(tx: Tx, rep_ids: Collection[str], *, start: date | None = None, end: date | None = None) -> list[dict]:
    """Trainings of these reps completed between `start` and `end` (inclusive, either open), by
    completion date then store order."""
    if not rep_ids:
        return []
    t = active_tables(tx, STAFF)
    sql = f"SELECT {', '.join(TRAINING_COLUMNS)} FROM {t['trainings']} WHERE rep_id IN ({_marks(rep_ids)})"
    params: list[Any] = list(rep_ids)
    if start is not None:
        sql += " AND completed_on >= ?"
        params.append(start.isoformat())
    if end is not None:
        sql += " AND completed_on <= ?"
        params.append(end.isoformat())
    return [_training(r) for r in tx.all(sql + " ORDER BY completed_on, position", params)]


def training_hours(tx: Tx, rep_id: str, *, up_to: date, since: date | None = None) -> dict[str, Decimal]:
    """Hours of training the rep completed by `up_to` (and from `since`), per topic; every topic
    is present, zero when none."""
    hours = {topic.value: Decimal("0.00") for topic in TrainingTopic}
    for item in trainings(tx, [rep_id], start=since, end=up_to):
        hours[item["topic"]] += item["hours"]
    return hours


def reviews(tx: Tx, rep_id: str, period: str | None = None) -> list[dict[str, Any]]:
    """The rep's reviews (of one period label, e.g. "2026-Q3", when given), by period then store order."""
    t = active_tables(tx, STAFF)
    sql = f"SELECT {', '.join(REVIEW_COLUMNS)} FROM {t['reviews']} WHERE rep_id = ?"
    params: list[Any] = [rep_id]
    if period is not None:
        sql += " AND period = ?"
        params.append(period)
    return [_review(r) for r in tx.all(sql + " ORDER BY period_end, period_start, position", params)]


def latest_reviews(tx: Tx, rep_ids: Collection[str], *, up_to: date) -> dict[str, dict[str, Any]]:
    """Each rep's latest review of a period that had started by `up_to` (latest period end, then
    latest recorded)."""
    if not rep_ids:
        return {}
    t = active_tables(tx, STAFF)
    latest: dict[str, dict[str, Any]] = {}
    for row in tx.all(
        f"SELECT {', '.join(REVIEW_COLUMNS)} FROM {t['reviews']} WHERE rep_id IN ({_marks(rep_ids)}) "
        f"AND period_start <= ? ORDER BY period_end, period_start, position",
        [*rep_ids, up_to.isoformat()],
    ):
        review = _review(row)
        latest[review["rep_id"]] = review
    return latest


def recognitions(
    tx: Tx, rep_ids: Collection[str], *, start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    """Recognitions of these reps awarded between `start` and `end` (inclusive, either open)."""
    if not rep_ids:
        return []
    t = active_tables(tx, STAFF)
    sql = f"SELECT {', '.join(RECOGNITION_COLUMNS)} FROM {t['recognitions']} WHERE rep_id IN ({_marks(rep_ids)})"
    params: list[Any] = list(rep_ids)
    if start is not None:
        sql += " AND awarded_on >= ?"
        params.append(start.isoformat())
    if end is not None:
        sql += " AND awarded_on <= ?"
        params.append(end.isoformat())
    return [
        dict(zip(RECOGNITION_COLUMNS, r, strict=True)) for r in tx.all(sql + " ORDER BY awarded_on, position", params)
    ]


def development(tx: Tx, rep_id: str) -> dict[str, Any]:
    """Everything recorded on the rep's development: trainings (with hours by topic), reviews, recognitions."""
    done = trainings(tx, [rep_id])
    by_topic: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for item in done:
        by_topic[item["topic"]] += item["hours"]
    return {
        "rep_id": rep_id,
        "trainings": done,
        "training_hours": sum((i["hours"] for i in done), Decimal("0.00")),
        "training_hours_by_topic": {t.value: by_topic[t.value] for t in TrainingTopic},
        "reviews": reviews(tx, rep_id),
        "recognitions": recognitions(tx, [rep_id]),
    }
