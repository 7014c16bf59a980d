"""Money in read-model tables is stored as integer cents: exact sums on every backend."""

from __future__ import annotations

from decimal import Decimal

from domain.values import CENT, round_money


def to_cents(amount: Decimal) -> int:
    return int(round_money(amount) / CENT)


def from_cents(cents: int | None) -> Decimal:
    return (Decimal(cents or 0) * CENT).quantize(CENT)
