"""Exchange rates into the base currency (`SALESLEDGER_BASE_CURRENCY`, default CNY)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from pydantic import Field

from api.access import EVERYONE, MONEY, Allow
from api.deps import MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.models import Amount, Body, Receipt, SaneDate
from api.responses.fx import Rates
from api.routing import Router
from domain.values import base_currency
from domain.values import currency as currency_code
from projections.fx import rate_history, rates_in_force

router = Router(prefix="/fx-rates", tags=["currencies"])

CurrencyText = Annotated[str, Field(min_length=3, max_length=3, examples=["USD"])]


class SetRate(Body):
    currency: CurrencyText
    rate: Amount = Field(examples=["7.1234"], description="one unit of `currency` in base currency (6 decimals kept)")
    effective_on: SaneDate = Field(description="the business date the rate applies from, YYYY-MM-DD")


@router.post("", dependencies=[Allow(MONEY)], status_code=201, response_model=Receipt)
def set_rate(body: SetRate, rt: RuntimeDep, meta: MetaDep):
    """Record that one unit of `currency` is worth `rate` units of the base currency from
    `effective_on` until the currency's next rate. A rate for a day that has one supersedes it (a
    new event: the earlier one stays in history). Rates are kept to 6 decimal places and converted
    amounts to the cent, both ROUND_HALF_UP. A rate entered later for an earlier date changes the
    figures of that date on: open commission months are recomputed, closed ones get an adjustment."""
    written = rt.ledger.fx.set_rate(meta, currency=body.currency, rate=body.rate, effective_on=body.effective_on)
    return answer(rt, written, 201)


@router.get("", dependencies=[Allow(EVERYONE)], response_model=Rates)
def rates(
    request: Request,
    rt: RuntimeDep,
    currency: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
    as_of: Annotated[SaneDate | None, Query(description="the rates in force on this business date")] = None,
    min_position: MinPosition = None,
):
    """Every rate as set (the latest for each day), or with `as_of` the rate in force on that
    date for each currency; `currency` narrows to one."""
    code = currency_code(currency) if currency else None
    await_position(request, "fx", min_position)
    with rt.db.read() as tx:
        if as_of is None:
            items = rate_history(tx, code)
        else:
            items = [
                {"currency": r.currency, "rate": str(r.rate), "effective_on": r.effective_on, "position": r.position}
                for r in rates_in_force(tx, as_of).values()
                if code is None or r.currency == code
            ]
    return {"base_currency": base_currency(), "as_of": as_of, "items": items}
