"""Receivables and the collection rate (回款率): one definition of each.

The Deal aggregate (what a payment may not exceed), the accounts read model (Customer 360,
credit exposure, `GET /receivables`) and the KPIs (`GET /kpis` `collection_rate`) all use these
functions. They work on Decimal amounts or on integer cents alike.

Terms, for one won deal:
- billed: the signed amount less cancellations (the part of the contract the customer owes);
- kept: the cash collected less refunds paid back (cancellations are not cash);
- receivable: billed less kept, never below zero.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

N = TypeVar("N", int, Decimal)
RATE = Decimal("0.0001")


def billed(signed: N, cancelled: N) -> N:
    """What the contract is worth to the customer: signed less cancelled."""
    return signed - cancelled


def kept(collected: N, refunded: N) -> N:
    """The cash the deal has brought in: collected less refunds paid back."""
    return collected - refunded


def receivable(signed: N, cancelled: N, collected: N, refunded: N) -> N:
    """What the customer still owes on a won deal: billed less kept, never below zero.

    `refunded` is cash paid back (a refund), not a cancellation."""
    return max(billed(signed, cancelled) - kept(collected, refunded), signed * 0)


def collection_rate(kept_total: N, billed_total: N) -> Decimal | None:
    """The collection rate (回款率) of the deals signed in a period: the cash kept on them
    (collected less refunds paid back, whenever it was received, up to now) divided by what they
    were billed (signed less cancelled). Deals count in the period of their signing date, for the
    owner (and the owner's team and region) on that date; splits do not divide collection.

    A 4-decimal fraction ("0.7188" = 71.88%), ROUND_HALF_UP; None when nothing was billed."""
    if billed_total == 0:
        return None
    return (Decimal(kept_total) / Decimal(billed_total)).quantize(RATE, rounding=ROUND_HALF_UP)
