"""Exchange rates: finance records what a foreign currency is worth in the base currency from a
business date on; every read model that reports money converts with them."""

from __future__ import annotations

from contextlib import suppress
from datetime import date

from application.base import UseCases, Written
from domain.base import Meta
from domain.errors import NotFound
from domain.fx import FxRates, fx_id


class Fx(UseCases):
    def set_rate(self, meta: Meta, *, currency: str, rate: object, effective_on: date) -> Written:
        """One unit of `currency` is worth `rate` base units from `effective_on` on (a rate for a
        day that has one supersedes it)."""
        book = FxRates.list_currency(currency)
        with suppress(NotFound):  # else the currency's first rate: its book is listed in the same write
            book = self.load(FxRates, fx_id(book.currency))
        book.set_rate(rate, effective_on)
        return self._written(
            meta, book, currency=book.currency, rate=book.rates[effective_on.isoformat()], effective_on=effective_on
        )
