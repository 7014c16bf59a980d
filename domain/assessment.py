"""Performance assessment (绩效考核) and training programmes (培训体系).

An assessment scheme names measurable indicators with weights summing to exactly 1; each
indicator's value is turned into points (0 at or below `zero_at`, 100 at `full_at`, linear
between, at most `cap` x 100), the score is the weighted sum of the points and the grade the
highest grade whose `min_score` the score reaches. Schemes are versioned like commission plans.

Finalizing a period freezes each rep's scorecard as an event carrying the scheme, the period,
the rep, the grade, the score and a digest of the whole scorecard; later facts never edit it.
An improvement plan (改善对策) records, for a rep below expectation, the causes and the actions
agreed by a manager above the rep, due by a date. A training programme requires hours of a
topic by a date from an audience (levels, teams, a partner)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput
from domain.partner import TrainingTopic, training_hours
from domain.values import Level, Period, decimal_number, required_text, sane_date

ATTAINMENT_METRICS = (
    "revenue",
    "gross_margin",
    "collections",
    "visits",
    "new_customers",
    "contracts_signed",
    "leads_contacted",
)
SOURCES = (
    *(f"kpi:{m}_attainment" for m in ATTAINMENT_METRICS),
    "kpi:collection_rate",
    "kpi:satisfaction",
    "review:rating",
)
PERIOD_KINDS = ("month", "quarter", "year")
SCHEME_KEYS = frozenset({"name", "period", "effective_from", "applies_to", "indicators", "grades"})
AUDIENCE_KEYS = frozenset({"levels", "teams", "partner_id"})
INDICATOR_KEYS = frozenset({"key", "source", "weight", "full_at", "zero_at", "cap"})
GRADE_KEYS = frozenset({"grade", "min_score"})
HUNDRED = Decimal(100)
POINTS = Decimal("0.01")
MAX_THRESHOLD = Decimal(10) ** 9
MAX_CAP = Decimal(10)


def _unknown(raw: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in sorted(k for k in raw if k not in allowed):
        path = f"{where}.{key}" if where else str(key)
        raise InvalidInput(f"unknown field {path}", field=path)


def _object(raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{field} must be an object", field=field)
    return raw


def _day(value: Any, field: str) -> date:
    if isinstance(value, date):
        return sane_date(value, field)
    try:
        return sane_date(date.fromisoformat(str(value)), field)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a date (YYYY-MM-DD)", field=field, value=str(value)) from None


def _number(value: Any, field: str, *, low: Decimal, high: Decimal) -> Decimal:
    number = decimal_number(value, field)
    if not low <= number <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}", field=field, value=str(value))
    return number


def validate_audience(raw: Any, field: str = "applies_to") -> dict[str, Any]:
    """Levels, teams and a partner (each optional): a rep is in the audience when it matches
    every part given. Absent: everyone."""
    if raw is None:
        return {"levels": [], "teams": [], "partner_id": None}
    audience = _object(raw, field)
    _unknown(audience, AUDIENCE_KEYS, field)
    levels, teams = audience.get("levels") or [], audience.get("teams") or []
    if not isinstance(levels, list):
        raise InvalidInput(f"{field}.levels must be a list", field=f"{field}.levels")
    if not isinstance(teams, list):
        raise InvalidInput(f"{field}.teams must be a list", field=f"{field}.teams")
    partner = audience.get("partner_id")
    return {
        "levels": sorted({Level.parse(v, f"{field}.levels[{i}]") for i, v in enumerate(levels)}),
        "teams": sorted({required_text(v, f"{field}.teams[{i}]", max_length=200) for i, v in enumerate(teams)}),
        "partner_id": None if partner is None else required_text(partner, f"{field}.partner_id", max_length=200),
    }


def in_audience(audience: dict[str, Any], attrs: dict[str, Any] | None) -> bool:
    """Is a rep with these org attributes (level, team, partner_id) in the audience?"""
    if attrs is None:
        return False
    if audience["levels"] and attrs.get("level") not in audience["levels"]:
        return False
    if audience["teams"] and attrs.get("team") not in audience["teams"]:
        return False
    return not (audience["partner_id"] and attrs.get("partner_id") != audience["partner_id"])


def validate_indicator(raw: Any, i: int) -> dict[str, str]:
    where = f"indicators[{i}]"
    indicator = _object(raw, where)
    _unknown(indicator, INDICATOR_KEYS, where)
    key = required_text(indicator.get("key"), f"{where}.key", max_length=100)
    source = indicator.get("source")
    if source not in SOURCES:
        raise InvalidInput(f"{where}.source must be one of: {', '.join(SOURCES)}", field=f"{where}.source")
    weight = _number(indicator.get("weight"), f"{where}.weight", low=Decimal(0), high=Decimal(1))
    if weight == 0:
        raise InvalidInput(f"{where}.weight must be greater than zero", field=f"{where}.weight")
    zero_at = _number(indicator.get("zero_at", "0"), f"{where}.zero_at", low=Decimal(0), high=MAX_THRESHOLD)
    if "full_at" not in indicator:
        raise InvalidInput(f"{where}.full_at is required", field=f"{where}.full_at")
    full_at = _number(indicator.get("full_at"), f"{where}.full_at", low=Decimal(0), high=MAX_THRESHOLD)
    if full_at <= zero_at:
        raise InvalidInput(f"{where}.full_at must be greater than zero_at", field=f"{where}.full_at")
    cap = _number(indicator.get("cap", "1"), f"{where}.cap", low=Decimal(1), high=MAX_CAP)
    return {
        "key": key,
        "source": str(source),
        "weight": str(weight),
        "zero_at": str(zero_at),
        "full_at": str(full_at),
        "cap": str(cap),
    }


def validate_scheme(body: Any) -> dict[str, Any]:
    """A scheme body, checked: 422 naming the offending field (its path) otherwise."""
    scheme = _object(body, "scheme")
    _unknown(scheme, SCHEME_KEYS, "")
    name = required_text(scheme.get("name"), "name", max_length=200)
    kind = scheme.get("period")
    if kind not in PERIOD_KINDS:
        raise InvalidInput(f"period must be one of: {', '.join(PERIOD_KINDS)}", field="period")
    effective = _day(scheme.get("effective_from"), "effective_from")
    indicators = scheme.get("indicators")
    if not isinstance(indicators, list) or not indicators:
        raise InvalidInput("indicators must be a non-empty list", field="indicators")
    if len(indicators) > 50:
        raise InvalidInput("at most 50 indicators", field="indicators")
    parsed = [validate_indicator(raw, i) for i, raw in enumerate(indicators)]
    keys = [p["key"] for p in parsed]
    if len(set(keys)) != len(keys):
        raise InvalidInput("indicator keys must be distinct", field="indicators")
    total = sum((Decimal(p["weight"]) for p in parsed), Decimal(0))
    if total != 1:
        raise InvalidInput(f"indicator weights must sum to exactly 1 (they sum to {total})", field="indicators")
    grades = scheme.get("grades")
    if not isinstance(grades, list) or not grades:
        raise InvalidInput("grades must be a non-empty list", field="grades")
    if len(grades) > 20:
        raise InvalidInput("at most 20 grades", field="grades")
    top = max(Decimal(p["cap"]) for p in parsed) * HUNDRED
    parsed_grades = []
    for i, raw in enumerate(grades):
        grade = _object(raw, f"grades[{i}]")
        _unknown(grade, GRADE_KEYS, f"grades[{i}]")
        label = required_text(grade.get("grade"), f"grades[{i}].grade", max_length=20)
        min_score = _number(grade.get("min_score"), f"grades[{i}].min_score", low=Decimal(0), high=top)
        if min_score != min_score.quantize(POINTS):
            raise InvalidInput(
                f"grades[{i}].min_score has more than two decimal places", field=f"grades[{i}].min_score"
            )
        parsed_grades.append({"grade": label, "min_score": str(min_score.quantize(POINTS))})
    if len({g["grade"] for g in parsed_grades}) != len(parsed_grades):
        raise InvalidInput("grade names must be distinct", field="grades")
    if len({Decimal(g["min_score"]) for g in parsed_grades}) != len(parsed_grades):
        raise InvalidInput("grades must have distinct min_score", field="grades")
    parsed_grades.sort(key=lambda g: -Decimal(g["min_score"]))
    return {
        "name": name,
        "period": kind,
        "effective_from": effective.isoformat(),
        "applies_to": validate_audience(scheme.get("applies_to")),
        "indicators": parsed,
        "grades": parsed_grades,
    }


# -- the arithmetic ---------------------------------------------------------------------------
def points(value: Decimal | None, *, zero_at: Decimal, full_at: Decimal, cap: Decimal = Decimal(1)) -> Decimal:
    """0 at or below `zero_at` (and for a missing value), 100 at `full_at`, linear between and
    beyond, at most `cap` x 100; two decimals, ROUND_HALF_UP."""
    if value is None or value <= zero_at:
        return Decimal("0.00")
    raw = (value - zero_at) * HUNDRED / (full_at - zero_at)
    return min(raw, cap * HUNDRED).quantize(POINTS, rounding=ROUND_HALF_UP)


def score(weighted: list[tuple[Decimal, Decimal]]) -> Decimal:
    """Σ weight x points over (weight, points), two decimals, ROUND_HALF_UP."""
    return sum((w * p for w, p in weighted), Decimal(0)).quantize(POINTS, rounding=ROUND_HALF_UP)


def grade_of(value: Decimal, grades: list[dict[str, str]]) -> str | None:
    """The highest grade whose `min_score` is at most `value` (None when the score reaches none)."""
    reached = [g for g in grades if Decimal(g["min_score"]) <= value]
    return max(reached, key=lambda g: Decimal(g["min_score"]))["grade"] if reached else None


def evaluate(scheme: dict[str, Any], values: dict[str, Decimal | None]) -> dict[str, Any]:
    """Points per indicator from `values` (by indicator key; None = missing), the score and the grade."""
    rows = []
    for ind in scheme["indicators"]:
        value = values.get(ind["key"])
        got = points(value, zero_at=Decimal(ind["zero_at"]), full_at=Decimal(ind["full_at"]), cap=Decimal(ind["cap"]))
        rows.append({"key": ind["key"], "value": value, "points": got, "weight": Decimal(ind["weight"])})
    total = score([(r["weight"], r["points"]) for r in rows])
    return {"score": total, "grade": grade_of(total, scheme["grades"]), "indicators": rows}


def digest(card: dict[str, Any]) -> str:
    """sha256 of the scorecard's canonical JSON (decimals and dates as text, keys sorted)."""
    return hashlib.sha256(json.dumps(card, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def scheme_period(scheme: dict[str, Any], period: Period) -> bool:
    return bool(scheme["period"] == period.kind)


# -- aggregates -------------------------------------------------------------------------------
class AssessmentScheme(Entity):
    """Versioned, effective-dated: a period is assessed under the version in force on its last day."""

    @event("Created")
    def __init__(self, id: UUID, body: dict[str, Any]) -> None:
        self.versions: list[dict[str, Any]] = [{"version": 1, **body}]

    @classmethod
    def create(cls, id: UUID, body: Any) -> AssessmentScheme:
        return cls(id=id, body=validate_scheme(body))

    def add_version(self, body: Any) -> int:
        parsed = validate_scheme(body)
        latest = self.versions[-1]
        if parsed["effective_from"] <= latest["effective_from"]:
            raise Conflict(
                f"a new version must take effect after {latest['effective_from']}",
                code="effective_from_not_later",
                field="effective_from",
                latest=latest["effective_from"],
            )
        if parsed["period"] != latest["period"]:
            raise Conflict("a scheme keeps its period across versions", code="period_changed", field="period")
        version = len(self.versions) + 1
        self._versioned(version=version, body=parsed)
        return version

    @event("Versioned")
    def _versioned(self, version: int, body: dict[str, Any]) -> None:
        self.versions.append({"version": version, **body})


def round_id(scheme_id: str, period: str) -> UUID:
    """The id of a scheme's assessment round of a period (one finalization per scheme and period)."""
    return uuid5(NAMESPACE_URL, f"salesledger:assessment:{scheme_id}:{period}")


class AssessmentRound(Entity):
    """A scheme's assessment of one period, finalized: the scorecards frozen, one event per rep."""

    @event("Finalized")
    def __init__(
        self,
        id: UUID,
        scheme_id: str,
        scheme_version: int,
        period: str,
        finalized_on: date,
        reps: int,
        as_of_position: int,
    ) -> None:
        self.scheme_id = scheme_id
        self.scheme_version = scheme_version
        self.period = period
        self.finalized_on = finalized_on
        self.reps = reps
        self.as_of_position = as_of_position
        self.scorecards: dict[str, dict[str, Any]] = {}

    @classmethod
    def finalize(
        cls,
        *,
        scheme_id: str,
        scheme_version: int,
        period: Period,
        finalized_on: date,
        as_of_position: int,
        scorecards: list[dict[str, Any]],
    ) -> AssessmentRound:
        """Freeze `scorecards` (each with rep_id, score, grade and the indicator rows, read from
        history as recorded up to store position `as_of_position`) for the period, which must
        have ended before `finalized_on`: 409 `period_not_ended` otherwise."""
        if period.end >= finalized_on:
            raise Conflict(
                f"{period.label} has not ended: it can be finalized from {period.end.isoformat()} on, after its last day",
                code="period_not_ended",
                period=period.label,
            )
        found = cls(
            id=round_id(scheme_id, period.label),
            scheme_id=scheme_id,
            scheme_version=scheme_version,
            period=period.label,
            finalized_on=finalized_on,
            reps=len(scorecards),
            as_of_position=as_of_position,
        )
        for card in scorecards:
            found._frozen(
                scheme_id=scheme_id,
                period=period.label,
                rep_id=card["rep_id"],
                grade=card["grade"],
                score=str(card["score"]),
                digest=digest(card),
                scorecard=json.loads(json.dumps(card, default=str)),
            )
        return found

    @event("ScorecardFrozen")
    def _frozen(
        self,
        scheme_id: str,
        period: str,
        rep_id: str,
        grade: str | None,
        score: str,
        digest: str,
        scorecard: dict[str, Any],
    ) -> None:
        self.scorecards[rep_id] = {"grade": grade, "score": score, "digest": digest, "scorecard": scorecard}


class ImprovementPlan(Entity):
    """改善对策: causes and actions for a rep below expectation, by a manager above the rep."""

    @event("Recorded")
    def __init__(
        self,
        id: UUID,
        rep_id: str,
        period: str,
        causes: str,
        actions: str,
        due_on: date,
        manager_id: str,
        recorded_on: date,
    ) -> None:
        self.rep_id = rep_id
        self.period = period
        self.causes = causes
        self.actions = actions
        self.due_on = due_on
        self.manager_id = manager_id
        self.recorded_on = recorded_on
        self.done_on: date | None = None
        self.outcome: str | None = None

    @classmethod
    def record(
        cls,
        id: UUID,
        *,
        rep_id: str,
        period: object,
        causes: object,
        actions: object,
        due_on: object,
        manager_id: str,
        manager_chain: list[str],
        recorded_on: date,
    ) -> ImprovementPlan:
        label = Period.parse(period if isinstance(period, str) else "").label
        causes_text = required_text(causes, "causes", max_length=4000)
        actions_text = required_text(actions, "actions", max_length=4000)
        due = business_date(due_on, "due_on")
        if due < Period.parse(label).start:
            raise InvalidInput("due_on must not be before the period starts", field="due_on")
        if manager_id == rep_id or manager_id not in manager_chain:
            raise Conflict(
                f"rep {manager_id} is not a manager above rep {rep_id}",
                code="manager_not_allowed",
                field="manager_id",
                manager_id=manager_id,
            )
        return cls(
            id=id,
            rep_id=rep_id,
            period=label,
            causes=causes_text,
            actions=actions_text,
            due_on=due,
            manager_id=manager_id,
            recorded_on=business_date(recorded_on, "recorded_on"),
        )

    def complete(self, *, on: object, outcome: object = None) -> None:
        if self.done_on is not None:
            raise Conflict("the improvement plan is already done", code="already_done", done_on=str(self.done_on))
        day = business_date(on, "on")
        text = None if outcome is None else required_text(outcome, "outcome", max_length=4000)
        self._completed(on=day, outcome=text)

    @event("Completed")
    def _completed(self, on: date, outcome: str | None) -> None:
        self.done_on = on
        self.outcome = outcome


def programme_body(
    *, name: object, topic: object, required_hours: object, due_by: object, audience: object
) -> dict[str, Any]:
    return {
        "name": required_text(name, "name", max_length=200),
        "topic": TrainingTopic.parse(topic, "topic"),
        "required_hours": str(training_hours(required_hours, "required_hours")),
        "due_by": business_date(due_by, "due_by").isoformat(),
        "audience": validate_audience(audience, "audience"),
    }


class TrainingProgramme(Entity):
    """Hours of a topic each rep of the audience must complete by `due_by`."""

    @event("Created")
    def __init__(self, id: UUID, body: dict[str, Any]) -> None:
        self.name = body["name"]
        self.topic = body["topic"]
        self.required_hours = body["required_hours"]
        self.due_by = body["due_by"]
        self.audience = body["audience"]

    @classmethod
    def create(cls, id: UUID, **fields: object) -> TrainingProgramme:
        return cls(id=id, body=programme_body(**fields))
