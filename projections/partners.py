"""The partner scorecard (`GET /partners/{id}`): a channel partner's staff, its KPIs against its
targets for a period (scope `partner:ID`), its staff's training hours, latest reviews and
recognitions. Read from the org timeline, the KPI read model and the staff read model only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.errors import NotFound
from domain.partner import TrainingTopic
from domain.values import Period
from infrastructure.database import Tx
from projections.money import fraction
from projections.org import OrgHistory
from projections.performance import kpis, member_totals
from projections.staff import latest_reviews, partner, recognitions, trainings

HEADLINE = ("revenue", "collections")


def scorecard(tx: Tx, partner_id: str, *, period: Period, day: date) -> dict[str, Any]:
    """The partner's scorecard for `period`. Staff are the partner's active reps on `day` (the
    period's last day, or today while it runs). Revenue, collections and every other KPI count
    the facts of reps who were the partner's staff on each fact's date; training hours and
    recognitions count those completed or awarded in the period while the rep was its staff;
    reviews are each current staff member's latest."""
    found = partner(tx, partner_id)
    if found is None:
        raise NotFound(f"no partner with id {partner_id}", kind="partner", id=partner_id)
    scope = f"partner:{partner_id}"
    org = OrgHistory.of(tx)
    staff_ids = sorted(org.members(day, scope))
    ever = sorted(rep for rep in org.timelines if any(c.get("partner_id") == partner_id for c in org.timelines[rep]))
    card = kpis(tx, scope=scope, period=period)
    credited = member_totals(tx, scope=scope, period=period, metrics=HEADLINE)
    metrics = {m["metric"]: m for m in card["metrics"]}

    done = [
        t
        for t in trainings(tx, ever, start=period.start, end=period.end)
        if org.in_scope(t["rep_id"], date.fromisoformat(t["completed_on"]), scope)
    ]
    by_topic = {topic.value: Decimal("0.00") for topic in TrainingTopic}
    hours_of: dict[str, Decimal] = {}
    for t in done:
        by_topic[t["topic"]] += t["hours"]
        hours_of[t["rep_id"]] = hours_of.get(t["rep_id"], Decimal("0.00")) + t["hours"]
    awarded = [
        r
        for r in recognitions(tx, ever, start=period.start, end=period.end)
        if org.in_scope(r["rep_id"], date.fromisoformat(r["awarded_on"]), scope)
    ]
    latest = latest_reviews(tx, staff_ids, up_to=min(day, period.end))
    ratings = [Decimal(r["rating"]) for r in latest.values()]

    staff = []
    for rep_id in staff_ids:
        attrs = org.attrs(rep_id, day) or {}
        review = latest.get(rep_id)
        staff.append(
            {
                "rep_id": rep_id,
                "name": org.names.get(rep_id),
                "level": attrs.get("level"),
                "team": attrs.get("team"),
                "region": attrs.get("region"),
                **{name: credited.get(rep_id, {}).get(name, Decimal("0.00")) for name in HEADLINE},
                "training_hours": hours_of.get(rep_id, Decimal("0.00")),
                "latest_review": None
                if review is None
                else {k: review[k] for k in ("period", "rating", "reviewer_id", "reviewed_on")},
                "recognitions": sum(1 for r in awarded if r["rep_id"] == rep_id),
            }
        )
    staff.sort(key=lambda s: (s["name"] or "", s["rep_id"]))
    return {
        **found,
        "id": found["partner_id"],
        "scope": scope,
        "period": period.label,
        "as_of": day,
        "staff_count": len(staff),
        "staff": staff,
        **{name: _headline(metrics[name]) for name in HEADLINE},
        "currency": card["currency"],
        "collection_rate": card["collection_rate"],
        "metrics": card["metrics"],
        "training_hours": sum(by_topic.values(), Decimal("0.00")),
        "training_hours_by_topic": by_topic,
        "trainings": len(done),
        "latest_reviews": sorted(latest.values(), key=lambda r: (r["period"], r["rep_id"])),
        "average_rating": None if not ratings else fraction(sum(ratings, Decimal(0)), Decimal(len(ratings))),
        "recognitions": awarded,
    }


def _headline(row: dict[str, Any]) -> dict[str, Any]:
    """Actual against target, in base currency; amounts no exchange rate converts yet are listed."""
    shown = {"actual": row["actual"], "target": row["target"], "attainment": row["attainment"]}
    return {**shown, "unconverted": row["unconverted"]} if row.get("unconverted") else shown
