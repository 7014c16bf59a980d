from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.values import Period, money, round_money


@pytest.mark.parametrize(
    "text, expected", [("1100", "1100.00"), ("1100.5", "1100.50"), (" 0.01 ", "0.01"), (25, "25.00")]
)
def test_money_parses_to_two_places(text, expected):
    assert str(money(text)) == expected


@pytest.mark.parametrize("bad", ["1.005", "abc", "NaN", "Infinity", "-5", "0", 1.5, True, ""])
def test_money_refuses_floats_fractions_of_cents_and_nonsense(bad):
    with pytest.raises(InvalidInput):
        money(bad)


def test_zero_and_negative_only_when_allowed():
    assert money("0", allow_zero=True) == Decimal("0.00")
    assert money("-3.10", allow_negative=True) == Decimal("-3.10")


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False))
def test_round_money_is_half_up_to_the_cent(value):
    rounded = round_money(value)
    assert rounded.as_tuple().exponent == -2
    assert abs(rounded - value) <= Decimal("0.005")
    if abs(rounded - value) == Decimal("0.005"):
        assert abs(rounded) > abs(value)  # ties go away from zero


@pytest.mark.parametrize(
    "label, start, end, kind",
    [
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30), "month"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
        ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), "quarter"),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "year"),
    ],
)
def test_period_parse(label, start, end, kind):
    period = Period.parse(label)
    assert (period.start, period.end, period.kind, str(period)) == (start, end, kind, label)
    assert start in period and end in period


@pytest.mark.parametrize("bad", ["2026-13", "2026-Q5", "26-11", "2026-1", "", "2026/11"])
def test_period_refuses_malformed(bad):
    with pytest.raises(InvalidInput):
        Period.parse(bad)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_every_day_falls_in_its_month(day):
    assert day in Period.month_of(day)


@given(st.one_of(st.text(max_size=30), st.integers(), st.decimals(allow_nan=True, allow_infinity=True)))
def test_money_either_parses_to_cents_or_refuses_cleanly(value):
    try:
        amount = money(value, allow_zero=True, allow_negative=True)
    except InvalidInput:
        return
    assert amount.as_tuple().exponent == -2 and amount == Decimal(str(value).strip())


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31mred", "x\x7f"])
def test_text_with_control_characters_is_refused(text):
    from domain.values import required_text

    with pytest.raises(InvalidInput):
        required_text(text, "name")


def test_text_keeps_chinese_newlines_and_tabs():
    from domain.values import required_text

    assert required_text("  展会名片\n\t需要报价 ", "notes") == "展会名片\n\t需要报价"


@pytest.mark.parametrize(
    "digits", ["\u0661\u0660\u0660", "\u06f1\u06f0\u06f0", "\uff11\uff10\uff10", "1e2", "1_00", "𝟙𝟘𝟘"]
)
def test_money_refuses_digits_other_than_ascii(digits):
    with pytest.raises(InvalidInput) as refused:
        money(digits, field="gross_margin")
    assert refused.value.details["field"] == "gross_margin"


@pytest.mark.parametrize("mark", ["\u202a", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff"])
def test_text_with_bidi_controls_or_zero_width_characters_is_refused(mark):
    from domain.values import required_text

    with pytest.raises(InvalidInput) as refused:
        required_text(f"abc{mark}def", "company")
    assert refused.value.details["field"] == "company"
