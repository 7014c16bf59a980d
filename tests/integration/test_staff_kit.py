"""Staff development with the given/when/then kit, on each backend: the review rules of the Rep
aggregate and the staff read model's queries (reviews of a period, training hours by topic up to
a date) that assessments read."""

from datetime import date
from decimal import Decimal

from application import SalesLedger
from domain.errors import Conflict, InvalidInput
from projections.staff import reviews, training_hours
from tests.kit import META, Step, hired, transferred


def trained(name: str, topic: str, hours: str, on: str) -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> object:
        return ledger.partners.record_training(
            META, ids[name], course=f"{topic} course", topic=topic, completed_on=date.fromisoformat(on), hours=hours
        )

    return step


def reviewed(name: str, period: str, rating: object, *, by: str, on: str = "2026-11-30") -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> object:
        return ledger.partners.review_rep(
            META,
            ids[name],
            period=period,
            rating=rating,
            strengths="跟进及时",
            improvements="加强方案撰写",
            reviewer_id=ids[by],
            reviewed_on=date.fromisoformat(on),
        )

    return step


def test_a_review_by_the_manager_above_is_recorded(kit):
    kit.given(hired("boss", "director"), hired("mgr", "manager", manager="boss"), hired("amy", "mid", manager="mgr"))
    kit.when(reviewed("amy", "2026-Q3", 4, by="boss"))
    (review,) = kit.then_events("RepReviewed")
    assert (review.event.period, review.event.rating, review.event.reviewer_id) == ("2026-Q3", 4, kit.ids["boss"])


def test_a_rating_outside_one_to_five_is_refused_naming_the_field(kit):
    kit.given(hired("mgr", "manager"), hired("amy", "mid", manager="mgr"))
    for rating in (0, 6, "4.5", True, None):
        kit.when(reviewed("amy", "2026-Q3", rating, by="mgr"))
        refused = kit.then_error(InvalidInput, field="rating")
        assert "rating" in str(refused), rating


def test_the_reviewer_must_be_a_manager_or_director_above_the_rep_then(kit):
    kit.given(
        hired("mgr", "manager"),
        hired("other", "manager"),
        hired("amy", "mid", manager="mgr"),
        hired("senior", "senior", manager="mgr"),
        transferred("amy", manager="other", on="2026-10-01"),
    )
    for reviewer, period in (("senior", "2026-Q2"), ("mgr", "2026-Q4"), ("other", "2026-Q2"), ("amy", "2026-Q2")):
        kit.when(reviewed("amy", period, 3, by=reviewer))
        refused = kit.then_error(Conflict, field="reviewer_id")
        assert refused.code == "reviewer_not_allowed"
    # above the rep on the period's last day: the old manager for Q2, the new one for Q4
    kit.given(reviewed("amy", "2026-Q2", 3, by="mgr"), reviewed("amy", "2026-Q4", 5, by="other", on="2026-11-30"))


def test_reviews_and_training_hours_from_the_read_model(kit):
    kit.given(
        hired("mgr", "manager"),
        hired("amy", "mid", manager="mgr"),
        trained("amy", "product", "8", "2026-09-10"),
        trained("amy", "product", "1.5", "2026-10-03"),
        trained("amy", "compliance", "2.25", "2026-10-20"),
        trained("amy", "service", "4", "2026-12-01"),
        reviewed("amy", "2026-Q3", 4, by="mgr"),
        reviewed("amy", "2026-10", 5, by="mgr"),
    )
    amy = kit.ids["amy"]
    hours = kit.then_query("staff", lambda tx: training_hours(tx, amy, up_to=date(2026, 10, 31)))
    assert hours == {
        "product": Decimal("9.5"),
        "sales_skills": Decimal("0"),
        "service": Decimal("0"),
        "compliance": Decimal("2.25"),
    }
    in_october = kit.then_query(
        "staff", lambda tx: training_hours(tx, amy, since=date(2026, 10, 1), up_to=date(2026, 10, 31))
    )
    assert in_october["product"] == Decimal("1.5")
    q3 = kit.then_query("staff", lambda tx: reviews(tx, amy, "2026-Q3"))
    assert [(r["period"], r["rating"], r["reviewer_id"]) for r in q3] == [("2026-Q3", 4, kit.ids["mgr"])]
    assert [r["period"] for r in kit.then_query("staff", lambda tx: reviews(tx, amy))] == ["2026-Q3", "2026-10"]
