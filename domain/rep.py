"""The Rep aggregate: a member of the sales organisation, from junior rep to director.

Promotions, demotions, transfers and leaving are effective-dated: they may be recorded
before or after the date they take effect, and the rep's position in the organisation on any
day is the fold of the changes effective by then (`as_of`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.errors import Conflict, InvalidInput
from domain.partner import TrainingTopic, review_rating, training_hours, training_score
from domain.values import MONEY_METRICS, Level, Metric, Period, can_manage, money, optional_text, required_text

ORG_FIELDS = ("level", "team", "region", "manager_id", "status", "partner_id")


class Keep(Enum):
    """A field left as it was (a transfer that says nothing about the rep's partner)."""

    KEEP = "keep"


KEEP = Keep.KEEP
LEVEL_ORDER: tuple[str, ...] = tuple(level.value for level in Level)  # Level's own order, lowest first


def fold(timeline: list[dict[str, Any]], day: date | None = None) -> dict[str, Any] | None:
    """Org attributes on `day` (None: latest), folding changes by effective date, then record order."""
    state: dict[str, Any] | None = None
    for change in sorted(timeline, key=lambda c: (c["effective_from"], c["seq"])):
        if day is not None and change["effective_from"] > day:
            break
        state = {**(state or {}), **{k: v for k, v in change.items() if k in ORG_FIELDS}}
    return state


class Rep(Entity):
    if TYPE_CHECKING:  # set by _change from the folded timeline (ORG_FIELDS); declared only for the type checker
        level: str
        team: str
        region: str
        manager_id: str | None
        status: str
        partner_id: str | None

    @event("Hired")
    def __init__(
        self,
        id: UUID,
        name: str,
        level: str,
        team: str,
        region: str,
        manager_id: str | None,
        hired_on: date | None,
        external_id: str | None = None,
        partner_id: str | None = None,
    ) -> None:
        self.name = name
        self.external_id = external_id  # the rep's id in the CRM it was imported from
        self.hired_on = hired_on
        self.open_leads: list[str] = []
        self.plans: list[dict[str, Any]] = []
        self.last_lead_taken_at: datetime | None = None
        self.timeline: list[dict[str, Any]] = []
        self.trainings: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.recognitions: list[dict[str, Any]] = []
        self._change(
            hired_on or date.min,
            level=level,
            team=team,
            region=region,
            manager_id=manager_id,
            status="active",
            partner_id=partner_id,
        )

    @classmethod
    def hire(
        cls,
        id: UUID,
        *,
        name: str,
        level: str,
        team: str,
        region: str,
        manager_id: str | None = None,
        hired_on: date | None = None,
        external_id: str | None = None,
        partner_id: str | None = None,
    ) -> Rep:
        return cls(
            id=id,
            name=required_text(name, "name", max_length=200),
            level=Level.parse(level, "level"),
            team=required_text(team, "team", max_length=200),
            region=required_text(region, "region", max_length=200),
            manager_id=optional_text(manager_id, "manager_id"),
            hired_on=None if hired_on is None else business_date(hired_on, "hired_on"),
            external_id=optional_text(external_id, "external_id", max_length=200),
            partner_id=optional_text(partner_id, "partner_id", max_length=200),
        )

    # -- derived state -------------------------------------------------------------------------
    def _change(self, effective_from: date, **fields: Any) -> None:
        self.timeline.append({"effective_from": effective_from, "seq": len(self.timeline), **fields})
        for key, value in (fold(self.timeline) or {}).items():  # never None: the timeline was just appended to
            setattr(self, key, value)

    def as_of(self, day: date) -> dict[str, Any] | None:
        return fold(self.timeline, day)

    def has_left(self, day: date) -> bool:
        """Whether the rep's leaving has taken effect by `day` (a leave may be recorded ahead)."""
        return any(c.get("status") == "left" and c["effective_from"] <= day for c in self.timeline)

    def may_manage(self, day: date, field: str = "manager_id") -> None:
        """Refuse (409 `manager_not_allowed`) unless this rep is a manager or director, in post,
        on `day`: only they may have someone report to them from that day."""
        then = self.as_of(day)
        if then is None or then["status"] != "active" or not can_manage(then["level"]):
            why = (
                f"was not yet hired on {day}"
                if then is None
                else ("had left by then" if then["status"] != "active" else f"is {then['level']} on {day}")
            )
            raise Conflict(
                f"{field}: only a manager or director can be someone's manager; rep {self.id} {why}",
                code="manager_not_allowed",
                field=field,
                manager_id=str(self.id),
                level=None if then is None else then["level"],
                on=day,
            )

    def as_dict(self) -> dict[str, Any]:
        state = super().as_dict()
        state["duties"] = Level(self.level).duties
        return state

    def _effective(self, effective_from: date, field: str) -> date:
        effective_from = business_date(effective_from, field)
        if self.hired_on is not None and effective_from < self.hired_on:
            raise InvalidInput(f"{field} is before the rep was hired ({self.hired_on})", field=field)
        if self.status != "active":
            raise Conflict("the rep has left", code="rep_left", rep_id=str(self.id))
        return effective_from

    # -- commands ------------------------------------------------------------------------------
    def change_level(self, *, level: str, effective_from: date, reason: str) -> None:
        to = Level.parse(level, "level")
        effective_from = self._effective(effective_from, "effective_from")
        reason = required_text(reason, "reason")
        before = self.as_of(effective_from) or {"level": self.level}
        if before["level"] == to:
            raise Conflict(f"the rep is already {to} on {effective_from}", code="level_unchanged")
        direction = "promotion" if Level(to).rank > Level(before["level"]).rank else "demotion"
        self._level_changed(
            from_level=before["level"], to_level=to, direction=direction, effective_from=effective_from, reason=reason
        )

    @event("LevelChanged")
    def _level_changed(self, from_level: str, to_level: str, direction: str, effective_from: date, reason: str) -> None:
        self._change(effective_from, level=to_level)

    def transfer(
        self,
        *,
        team: str,
        region: str,
        manager_id: str | None,
        effective_from: date,
        reason: str,
        partner_id: str | Keep | None = KEEP,
    ) -> None:
        """Move the rep; `partner_id` (a partner, or None for the organisation's own staff) is
        part of the move only when given."""
        effective_from = self._effective(effective_from, "effective_from")
        to = {
            "team": required_text(team, "team", max_length=200),
            "region": required_text(region, "region", max_length=200),
            "manager_id": optional_text(manager_id, "manager_id"),
        }
        if not isinstance(partner_id, Keep):
            to["partner_id"] = optional_text(partner_id, "partner_id", max_length=200)
        if to["manager_id"] == str(self.id):
            raise Conflict("a rep cannot manage themselves", code="manager_cycle")
        reason = required_text(reason, "reason")
        before = self.as_of(effective_from) or {}
        if all(before.get(k) == v for k, v in to.items()):
            raise Conflict("the transfer changes nothing", code="transfer_unchanged")
        self._transferred(
            from_assignment={k: before.get(k) for k in to},
            to_assignment=to,
            effective_from=effective_from,
            reason=reason,
        )

    @event("Transferred")
    def _transferred(
        self,
        from_assignment: dict[str, str | None],
        to_assignment: dict[str, str | None],
        effective_from: date,
        reason: str,
    ) -> None:
        self._change(effective_from, **to_assignment)

    def leave(self, *, effective_on: date, reason: str) -> None:
        effective_on = self._effective(effective_on, "effective_on")
        self._left(effective_on=effective_on, reason=required_text(reason, "reason"))

    @event("Left")
    def _left(self, effective_on: date, reason: str) -> None:
        self._change(effective_on, status="left")

    # -- lead load: open leads are tracked here so capacity caps hold under concurrency ----------
    def take_lead(self, *, lead_id: str, capacity: int | None, taken_at: datetime) -> None:
        if self.status != "active":
            raise Conflict("the rep has left", code="rep_left", rep_id=str(self.id))
        if capacity is not None and len(self.open_leads) >= capacity:
            raise Conflict(
                f"the rep is at their capacity cap ({capacity} open leads)",
                code="over_capacity",
                rep_id=str(self.id),
                capacity=capacity,
                open_leads=len(self.open_leads),
            )
        self._lead_taken(lead_id=lead_id, taken_at=taken_at)

    @event("LeadTaken")
    def _lead_taken(self, lead_id: str, taken_at: datetime) -> None:
        self.open_leads = [*self.open_leads, lead_id]
        self.last_lead_taken_at = taken_at

    def release_lead(self, *, lead_id: str, why: str) -> None:
        if lead_id in self.open_leads:
            self._lead_released(lead_id=lead_id, why=why)

    @event("LeadReleased")
    def _lead_released(self, lead_id: str, why: str) -> None:
        self.open_leads = [x for x in self.open_leads if x != lead_id]

    # -- commission plan -------------------------------------------------------------------------
    def assign_plan(self, *, plan_id: str, effective_from: date) -> None:
        effective_from = self._effective(effective_from, "effective_from")
        if any(p["plan_id"] == plan_id and p["effective_from"] == effective_from for p in self.plans):
            raise Conflict("this plan is already assigned from that date", code="plan_unchanged")
        self._plan_assigned(plan_id=plan_id, effective_from=effective_from)

    @event("PlanAssigned")
    def _plan_assigned(self, plan_id: str, effective_from: date) -> None:
        self.plans = sorted(
            [*self.plans, {"plan_id": plan_id, "effective_from": effective_from}], key=lambda p: p["effective_from"]
        )

    def relieve_quota(self, *, period: str, metric: str, amount: object, reason: object) -> None:
        """Quota relief (a territory handed over mid-quarter): credit toward attainment of `period`,
        never commission basis."""
        label = Period.parse(period).label
        name = Metric.parse(metric, "metric")
        if name not in MONEY_METRICS:
            raise InvalidInput(
                "quota relief is for a money metric (revenue, gross_margin, collections)", field="metric"
            )
        self._quota_relieved(
            period=label, metric=name, amount=money(amount, field="amount"), reason=required_text(reason, "reason")
        )

    @event("QuotaRelieved")
    def _quota_relieved(self, period: str, metric: str, amount: Decimal, reason: str) -> None:
        pass

    # -- development: training, periodic reviews and recognition (channel staff and all) ---------
    def record_training(
        self, *, course: object, topic: object, completed_on: date, hours: object, score: object = None
    ) -> None:
        completed_on = business_date(completed_on, "completed_on")
        if self.hired_on is not None and completed_on < self.hired_on:
            raise InvalidInput(f"completed_on is before the rep was hired ({self.hired_on})", field="completed_on")
        self._training_recorded(
            course=required_text(course, "course", max_length=200),
            topic=TrainingTopic.parse(topic, "topic"),
            completed_on=completed_on,
            hours=training_hours(hours),
            score=training_score(score),
        )

    @event("TrainingRecorded")
    def _training_recorded(
        self, course: str, topic: str, completed_on: date, hours: Decimal, score: Decimal | None
    ) -> None:
        self.trainings = [
            *self.trainings,
            {"course": course, "topic": topic, "completed_on": completed_on, "hours": hours, "score": score},
        ]

    def review(
        self,
        *,
        period: object,
        rating: object,
        strengths: object,
        improvements: object,
        reviewer: Rep,
        reviewer_chain: list[str],
        reviewed_on: date,
    ) -> None:
        """A periodic review with feedback. The reviewer is a manager or director above this rep
        (in `reviewer_chain`, the rep's managers upwards) on the period's last day, or on
        `reviewed_on` if the period is still running: 409 `reviewer_not_allowed` otherwise. One
        review per period (409 `review_exists`)."""
        label = period if isinstance(period, str) else ""
        review_period = Period.parse(label)
        rating_value = review_rating(rating)
        strengths_text = required_text(strengths, "strengths", max_length=2000)
        improvements_text = required_text(improvements, "improvements", max_length=2000)
        reviewed_on = business_date(reviewed_on, "reviewed_on")
        if review_period.start > reviewed_on:
            raise InvalidInput(
                f"period {review_period.label} has not started on {reviewed_on}: review it once it has",
                field="period",
                value=review_period.label,
            )
        if self.hired_on is not None and review_period.end < self.hired_on:
            raise InvalidInput(f"the rep was hired after {review_period.label}", field="period")
        if any(r["period"] == review_period.label for r in self.reviews):
            raise Conflict(
                f"the rep already has a review for {review_period.label}",
                code="review_exists",
                field="period",
                period=review_period.label,
            )
        day = min(review_period.end, reviewed_on)
        reviewer_id = str(reviewer.id)
        then = reviewer.as_of(day)
        if reviewer_id == str(self.id):
            why = "a rep cannot review themselves"
        elif then is None or then["status"] != "active":
            why = f"rep {reviewer_id} was not in post on {day}"
        elif not can_manage(then["level"]):
            why = f"rep {reviewer_id} is {then['level']} on {day}, not a manager or director"
        elif reviewer_id not in reviewer_chain:
            why = f"rep {reviewer_id} is not above this rep on {day}"
        else:
            why = ""
        if why:
            raise Conflict(
                f"reviewer_id: the reviewer must be a manager or director above the rep; {why}",
                code="reviewer_not_allowed",
                field="reviewer_id",
                reviewer_id=reviewer_id,
                on=day,
            )
        self._reviewed(
            period=review_period.label,
            rating=rating_value,
            strengths=strengths_text,
            improvements=improvements_text,
            reviewer_id=reviewer_id,
            reviewed_on=reviewed_on,
        )

    @event("Reviewed")
    def _reviewed(
        self, period: str, rating: int, strengths: str, improvements: str, reviewer_id: str, reviewed_on: date
    ) -> None:
        self.reviews = [
            *self.reviews,
            {
                "period": period,
                "rating": rating,
                "strengths": strengths,
                "improvements": improvements,
                "reviewer_id": reviewer_id,
                "reviewed_on": reviewed_on,
            },
        ]

    def recognise(self, *, title: object, awarded_on: date, reason: object) -> None:
        """Non-material incentive: "best seller of the month" and the like."""
        awarded_on = business_date(awarded_on, "awarded_on")
        if self.hired_on is not None and awarded_on < self.hired_on:
            raise InvalidInput(f"awarded_on is before the rep was hired ({self.hired_on})", field="awarded_on")
        self._recognised(
            title=required_text(title, "title", max_length=200),
            awarded_on=awarded_on,
            reason=required_text(reason, "reason", max_length=2000),
        )

    @event("Recognised")
    def _recognised(self, title: str, awarded_on: date, reason: str) -> None:
        self.recognitions = [*self.recognitions, {"title": title, "awarded_on": awarded_on, "reason": reason}]
