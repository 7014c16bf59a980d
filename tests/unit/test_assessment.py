"""Assessment arithmetic and scheme rules: points between thresholds, the cap, the score's
rounding and grades at their exact boundaries; schemes refused naming the offending field."""

from datetime import date
from decimal import Decimal as D
from uuid import uuid4

import pytest

from domain.assessment import (
    AssessmentRound,
    AssessmentScheme,
    evaluate,
    grade_of,
    points,
    score,
    validate_scheme,
)
from domain.errors import Conflict, InvalidInput
from domain.values import Period


def scheme_body(**changes):
    body = {
        "name": "季度考核",
        "period": "quarter",
        "effective_from": "2026-01-01",
        "indicators": [
            {
                "key": "sales",
                "source": "kpi:revenue_attainment",
                "weight": "0.6",
                "zero_at": "0.5",
                "full_at": "1.0",
                "cap": "1.2",
            },
            {"key": "skill", "source": "review:rating", "weight": "0.4", "zero_at": "1", "full_at": "5"},
        ],
        "grades": [
            {"grade": "S", "min_score": "90"},
            {"grade": "A", "min_score": "75"},
            {"grade": "B", "min_score": "60"},
            {"grade": "C", "min_score": "0"},
        ],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "0.00"),  # missing input
        ("0", "0.00"),  # far below
        ("0.5", "0.00"),  # exactly at zero_at
        ("0.5001", "0.02"),  # just above zero_at: linear, ROUND_HALF_UP
        ("0.75", "50.00"),  # half way
        ("0.8", "60.00"),
        ("1.0", "100.00"),  # exactly at full_at
        ("1.1", "120.00"),  # beyond full_at: linear up to the cap
        ("1.2", "120.00"),  # at the cap
        ("3", "120.00"),  # above the cap
    ],
)
def test_points_at_below_between_and_above_the_thresholds_and_the_cap(value, expected):
    got = points(None if value is None else D(value), zero_at=D("0.5"), full_at=D("1.0"), cap=D("1.2"))
    assert got == D(expected)
    assert str(got) == expected


def test_points_without_a_cap_stop_at_one_hundred():
    assert points(D("7"), zero_at=D("1"), full_at=D("5")) == D("100.00")
    assert points(D("4"), zero_at=D("1"), full_at=D("5")) == D("75.00")


def test_score_is_the_weighted_sum_rounded_half_up():
    assert score([(D("0.5"), D("33.33")), (D("0.5"), D("33.34"))]) == D("33.34")  # 33.335 -> 33.34
    assert score([(D("0.3"), D("100.00")), (D("0.7"), D("0.00"))]) == D("30.00")


def test_grades_at_exact_boundaries():
    grades = validate_scheme(scheme_body())["grades"]
    assert grade_of(D("90.00"), grades) == "S"
    assert grade_of(D("89.99"), grades) == "A"
    assert grade_of(D("75.00"), grades) == "A"
    assert grade_of(D("74.99"), grades) == "B"
    assert grade_of(D("60.00"), grades) == "B"
    assert grade_of(D("59.99"), grades) == "C"
    assert grade_of(D("0.00"), grades) == "C"
    no_floor = [g for g in grades if g["grade"] != "C"]
    assert grade_of(D("59.99"), no_floor) is None


def test_evaluate_a_scorecard():
    scheme = validate_scheme(scheme_body())
    card = evaluate(scheme, {"sales": D("0.8000"), "skill": None})
    assert [(r["key"], r["points"]) for r in card["indicators"]] == [("sales", D("60.00")), ("skill", D("0.00"))]
    assert card["score"] == D("36.00") and card["grade"] == "C"
    card = evaluate(scheme, {"sales": D("1.2000"), "skill": D("5")})
    assert card["score"] == D("112.00") and card["grade"] == "S"  # 0.6 x 120 + 0.4 x 100


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"indicators": [{"key": "sales", "source": "kpi:revenue_attainment", "weight": "0.9", "full_at": "1"}]},
            "indicators",
        ),  # weights sum to 0.9
        (
            {
                "indicators": [
                    {"key": "a", "source": "kpi:revenue_attainment", "weight": "0.6", "full_at": "1"},
                    {"key": "b", "source": "kpi:revenue_attainment", "weight": "0.5", "full_at": "1"},
                ]
            },
            "indicators",
        ),  # 1.1
        (
            {"indicators": [{"key": "a", "source": "kpi:revenue_attainment", "wieght": "1", "full_at": "1"}]},
            "indicators[0].wieght",
        ),
        ({"indicators": [{"key": "a", "source": "kpi:profit", "weight": "1", "full_at": "1"}]}, "indicators[0].source"),
        (
            {"indicators": [{"key": "a", "source": "review:rating", "weight": "1", "zero_at": "3", "full_at": "3"}]},
            "indicators[0].full_at",
        ),
        (
            {"indicators": [{"key": "a", "source": "review:rating", "weight": "1", "full_at": "5", "cap": "0.5"}]},
            "indicators[0].cap",
        ),
        (
            {"indicators": [{"key": "a", "source": "review:rating", "weight": 1.0, "full_at": "5"}]},
            "indicators[0].weight",
        ),  # a float
        ({"indicators": []}, "indicators"),
        ({"grades": []}, "grades"),
        ({"grades": [{"grade": "A", "min_score": "60"}, {"grade": "A", "min_score": "70"}]}, "grades"),
        ({"grades": [{"grade": "A", "min_score": "-1"}]}, "grades[0].min_score"),
        ({"period": "week"}, "period"),
        ({"effective_from": "2026-13-01"}, "effective_from"),
        ({"applies_to": {"levels": ["boss"]}}, "applies_to.levels[0]"),
        ({"applies_to": {"team": ["x"]}}, "applies_to.team"),
        ({"extra": 1}, "extra"),
        ({"name": " "}, "name"),
    ],
)
def test_invalid_schemes_are_refused_naming_the_field(change, field):
    with pytest.raises(InvalidInput) as refused:
        validate_scheme(scheme_body(**change))
    assert refused.value.details["field"] == field


def test_scheme_versions_take_effect_later_and_keep_their_period():
    scheme = AssessmentScheme.create(uuid4(), scheme_body())
    assert scheme.add_version(scheme_body(effective_from="2026-07-01")) == 2
    with pytest.raises(Conflict) as refused:
        scheme.add_version(scheme_body(effective_from="2026-07-01"))
    assert refused.value.code == "effective_from_not_later"
    with pytest.raises(Conflict) as refused:
        scheme.add_version(scheme_body(effective_from="2026-10-01", period="year"))
    assert refused.value.code == "period_changed"


def test_a_period_is_finalized_only_once_it_has_ended():
    card = {"rep_id": "r1", "score": D("10.00"), "grade": "C", "indicators": []}
    kwargs = {
        "scheme_id": "s1",
        "scheme_version": 1,
        "period": Period.parse("2026-Q1"),
        "scorecards": [card],
        "as_of_position": 7,
    }
    with pytest.raises(Conflict) as refused:
        AssessmentRound.finalize(finalized_on=date(2026, 3, 31), **kwargs)
    assert refused.value.code == "period_not_ended"
    finalized = AssessmentRound.finalize(finalized_on=date(2026, 4, 1), **kwargs)
    frozen = finalized.scorecards["r1"]
    assert frozen["grade"] == "C" and frozen["score"] == "10.00" and len(frozen["digest"]) == 64
