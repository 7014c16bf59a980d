"""Exchange rates and conversion: the stated rounding, refused input, the base currency setting."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.fx import FxRates, convert, rate_value
from domain.values import base_currency, currency, set_base_currency
from infrastructure.settings import Settings


def test_rates_keep_six_places_and_amounts_the_cent_half_up():
    assert rate_value("7.1234565") == Decimal("7.123457")
    assert rate_value("7.1234564") == Decimal("7.123456")
    assert convert(Decimal("0.50"), Decimal("0.010000")) == Decimal("0.01")  # 0.005 rounds up
    assert convert(Decimal("333.33"), Decimal("7.250000")) == Decimal("2416.64")  # 2416.6425


@pytest.mark.parametrize("bad", ["0", "-1", "0.0000004", "1000000.01", "abc", 7.1])
def test_bad_rates_are_refused_naming_the_field(bad):
    with pytest.raises(InvalidInput) as refused:
        rate_value(bad)
    assert refused.value.details["field"] == "rate"


def test_a_rate_book_refuses_the_base_currency_and_unknown_codes():
    with pytest.raises(InvalidInput):
        FxRates.list_currency("CNY")
    with pytest.raises(InvalidInput):
        FxRates.list_currency("ABC")
    book = FxRates.list_currency("usd")
    book.set_rate("7.1", date(2026, 1, 1))
    book.set_rate("7.2", date(2026, 1, 1))  # the same day again: the later one stands
    assert book.rates == {"2026-01-01": "7.200000"}


def test_the_base_currency_is_a_setting_checked_against_iso_4217(monkeypatch):
    monkeypatch.setenv("SALESLEDGER_BASE_CURRENCY", "usd")
    assert Settings.from_env().base_currency == "USD"
    monkeypatch.setenv("SALESLEDGER_BASE_CURRENCY", "XYZ")
    with pytest.raises(ValidationError):
        Settings.from_env()
    try:
        set_base_currency("USD")
        assert base_currency() == "USD" and currency(None) == "USD"
        FxRates.list_currency("CNY")  # now a foreign currency with rates of its own
    finally:
        set_base_currency("CNY")
