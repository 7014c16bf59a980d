"""Money in read-model tables is stored as integer cents: exact sums on every backend."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from domain.values import CENT, round_money


def to_cents(amount: Decimal) -> int:
    return int(round_money(amount) / CENT)


def from_cents(cents: int | None) -> Decimal:
    return (Decimal(cents or 0) * CENT).quantize(CENT)


def fraction(part: int | Decimal, whole: int | Decimal | None) -> Decimal | None:
    """part / whole as a 4-decimal fraction ("1.2000" = 120%), None when whole is missing or 0."""
    if whole is None or whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
